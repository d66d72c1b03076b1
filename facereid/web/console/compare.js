// Compare: the primary face of two photos, their cosine similarity, and the verdict under the
// embedding model's same-person threshold.
import { fileToBase64, postJSON, sameThreshold } from "/ui/api.js";
import { about, clearCanvas, drawFaces, loadImage, showError } from "/ui/draw.js";

// The photo's primary face, drawn; an error says which photo and file it is about.
async function primaryFace(file, canvas, which) {
  try {
    const data = await fileToBase64(file);
    const face = await postJSON("/analyze", { image_data: data, include_emotions: false });
    drawFaces(canvas, await loadImage(file), [face]);
    return face;
  } catch (error) {
    throw about(`${which} photo (${file.name})`, error);
  }
}

export function setupCompare(section) {
  const form = section.querySelector("#compare-form");
  const verdict = section.querySelector("#compare-verdict");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const a = section.querySelector("#compare-a").files[0];
    const b = section.querySelector("#compare-b").files[0];
    if (!a || !b) return;
    const canvases = [...section.querySelectorAll("canvas.photo")];
    showError(section, null);
    verdict.hidden = true;
    canvases.forEach(clearCanvas);  // no photo of the previous pair beside this answer
    section.dataset.state = "busy";
    try {
      // Both settle before anything is shown: with Promise.all, the first photo was drawn
      // after the second one's error, beside it.
      const settled = await Promise.allSettled([
        primaryFace(a, canvases[0], "first"),
        primaryFace(b, canvases[1], "second"),
      ]);
      const failed = settled.find((outcome) => outcome.status === "rejected");
      if (failed) throw failed.reason;
      const [first, second] = settled.map((outcome) => outcome.value);
      const { similarity } = await postJSON("/compare", {
        face1_embedding: first.embedding,
        face2_embedding: second.embedding,
        face1_model: first.embedding_model,
        face2_model: second.embedding_model,
      });
      const threshold = sameThreshold(first.embedding_model);
      const same = similarity >= threshold;
      verdict.textContent = `${same ? "same person" : "different people"} — similarity ` +
        `${similarity.toFixed(3)} (threshold ${threshold} for ${first.embedding_model})`;
      verdict.className = `verdict ${same ? "same" : "different"}`;
      verdict.dataset.verdict = same ? "same" : "different";
      verdict.hidden = false;
      section.dataset.state = "done";
    } catch (error) {
      canvases.forEach(clearCanvas);  // an error is shown alone
      showError(section, error);
      section.dataset.state = "error";
    }
  });
}
