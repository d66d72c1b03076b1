// Analyze: every face of one photo, drawn and listed.
import { fileToBase64, postJSON } from "/ui/api.js";
import { cell, clearCanvas, colour, drawFaces, emotionBars, loadImage, showError } from "/ui/draw.js";

// What each face engine estimates besides the box (/health names the engine): dlib has no age
// or gender model, so offering them would fill a column with "—". An engine not listed here
// is offered all three.
const ENGINE_ATTRIBUTES = { dlib: ["pose"], insightface: ["age", "gender", "pose"] };
const ALL_ATTRIBUTES = ["age", "gender", "pose"];
let offered = ALL_ATTRIBUTES;

// The attributes box's label and the column's title say what this engine gives.
export function offerAttributes(engine) {
  offered = ENGINE_ATTRIBUTES[engine] ?? ALL_ATTRIBUTES;
  document.getElementById("analyze-attributes-label").textContent = offered.join(", ");
  document.getElementById("analyze-attributes-head").textContent = offered.join(" · ");
  const missing = ALL_ATTRIBUTES.filter((name) => !offered.includes(name));
  document.getElementById("analyze-attributes").parentElement.title = missing.length
    ? `the ${engine} engine has no model for ${missing.join(" or ")}`
    : "";
}

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

// "34 · female 0.91 · yaw -12° pitch 4° roll 1°", only what the engine offers (dlib: the
// pose alone); "—" for an offered one this face lacks (the reason is the cell's tooltip).
function attributesText(attributes) {
  if (!attributes) return "—";
  const pose = attributes.pose;
  const parts = {
    age: attributes.age ?? "—",
    gender: attributes.gender
      ? `${attributes.gender} ${attributes.gender_probability.toFixed(2)}`
      : "—",
    pose: pose
      ? `yaw ${Math.round(pose.yaw)}° pitch ${Math.round(pose.pitch)}° roll ${Math.round(pose.roll)}°`
      : "—",
  };
  return offered.map((name) => parts[name]).join(" · ");
}
