// Analyze: every face of one photo, drawn and listed.
import { fileToBase64, postJSON } from "/ui/api.js";
import { cell, colour, drawFaces, emotionBars, loadImage, showError } from "/ui/draw.js";

export function setupAnalyze(section) {
  const form = section.querySelector("#analyze-form");
  const canvas = section.querySelector("#analyze-canvas");
  const body = section.querySelector("#analyze-faces tbody");
  const summary = section.querySelector(".summary");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = section.querySelector("#analyze-file").files[0];
    if (!file) return;
    showError(section, null);
    body.replaceChildren();
    clearCanvas(canvas);  // no earlier photo stays beside this one's answer or error
    summary.textContent = "analysing…";
    section.dataset.state = "busy";
    try {
      // The API judges the file first, so its error (not the browser's) is what is shown.
      const result = await postJSON("/analyze", {
        image_data: await fileToBase64(file),
        return_all_faces: true,
        include_emotions: section.querySelector("#analyze-emotions").checked,
        include_attributes: section.querySelector("#analyze-attributes").checked,
      });
      const faces = result.faces || [result];
      drawFaces(canvas, await loadImage(file), faces);
      faces.forEach((face, index) => {
        const row = document.createElement("tr");
        const number = cell(row, index + 1);
        number.style.color = colour(index);
        cell(row, face.bbox.map((v) => Math.round(v)).join(", "));
        cell(row, face.confidence.toFixed(3));
        cell(row, face.landmarks.length);
        cell(row, emotionBars(face.emotions, emotionsWhy(section)));
        const attributes = cell(row, attributesText(face.attributes));
        if (face.attributes && face.attributes.reason) attributes.title = face.attributes.reason;
        const quality = cell(row, qualityText(face.quality));
        if (face.quality) quality.title = Object.entries(face.quality.components)
          .map(([name, value]) => `${name} ${value.toFixed(2)}`).join(", ");
        body.append(row);
      });
      summary.textContent = `${faces.length} face(s) · ${result.embedding_model}` +
        (result.model_synthetic ? " · synthetic stand-in model: results are not real" : "");
      section.dataset.state = "done";
    } catch (error) {
      summary.textContent = "";
      clearCanvas(canvas);
      showError(section, error);
      section.dataset.state = "error";
    }
  });
}

// The previous photo and its boxes go: an error is shown alone.
function clearCanvas(canvas) {
  canvas.width = 0;
  canvas.height = 0;
  canvas.dataset.boxes = "0";
}

// Why a face has no emotions, for the "—" in its column.
function emotionsWhy(section) {
  const note = section.querySelector("#analyze-emotions-note");
  if (note && !note.hidden && note.textContent) return note.textContent;
  return section.querySelector("#analyze-emotions").checked ? "" : "emotions not asked for";
}

// "0.56 · size": the quality score (docs/quality.md) and its weakest component; all of
// them in the tooltip.
function qualityText(quality) {
  if (!quality) return "—";
  const [weakest] = Object.entries(quality.components).sort((a, b) => a[1] - b[1])[0];
  return `${quality.score.toFixed(2)} · ${weakest}`;
}

// "34 · female 0.91 · yaw -12° pitch 4° roll 1°"; "—" for what the engine does not give (its
// reason is the cell's tooltip).
function attributesText(attributes) {
  if (!attributes) return "—";
  const parts = [
    attributes.age ?? "—",
    attributes.gender ? `${attributes.gender} ${attributes.gender_probability.toFixed(2)}` : "—",
  ];
  const pose = attributes.pose;
  parts.push(pose
    ? `yaw ${Math.round(pose.yaw)}° pitch ${Math.round(pose.pitch)}° roll ${Math.round(pose.roll)}°`
    : "—");
  return parts.join(" · ");
}
