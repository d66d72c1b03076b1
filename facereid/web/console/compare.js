// Compare: the primary face of two photos, their cosine similarity, and the verdict under the
// embedding model's same-person threshold.
import { fileToBase64, postJSON, sameThreshold } from "/ui/api.js";
import { drawFaces, loadImage, showError } from "/ui/draw.js";

async function primaryFace(file, canvas) {
  const data = await fileToBase64(file);
  const face = await postJSON("/analyze", { image_data: data, include_emotions: false });
  drawFaces(canvas, await loadImage(file), [face]);
  return face;
}

export function setupCompare(section) {
  const form = section.querySelector("#compare-form");
  const verdict = section.querySelector("#compare-verdict");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const a = section.querySelector("#compare-a").files[0];
    const b = section.querySelector("#compare-b").files[0];
    if (!a || !b) return;
    showError(section, null);
    verdict.hidden = true;
    section.dataset.state = "busy";
    try {
      const [first, second] = await Promise.all([
        primaryFace(a, section.querySelector("#compare-canvas-a")),
        primaryFace(b, section.querySelector("#compare-canvas-b")),
      ]);
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
      showError(section, error);
      section.dataset.state = "error";
    }
  });
}
