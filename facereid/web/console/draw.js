// Drawing faces over a photo on a canvas, at the photo's own pixel size (CSS scales it).
const COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];

export function colour(index) {
  return COLOURS[index % COLOURS.length];
}

// A local blob: URL for the picked file; revoked once the image is decoded.
export function loadImage(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const image = new Image();
    image.onload = () => {
      URL.revokeObjectURL(url);
      resolve(image);
    };
    image.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error(`${file.name} is not an image this browser can show`));
    };
    image.src = url;
  });
}

// Draws the photo, each face's box with its number, and its landmarks (5 or 106 points).
// data-boxes on the canvas says how many boxes were drawn (the console's tests read it).
export function drawFaces(canvas, image, faces) {
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0);
  const line = Math.max(2, Math.round(Math.max(canvas.width, canvas.height) / 400));
  faces.forEach((face, index) => {
    const [x, y, w, h] = face.bbox;
    ctx.strokeStyle = ctx.fillStyle = colour(index);
    ctx.lineWidth = line;
    ctx.strokeRect(x, y, w, h);
    const radius = face.landmarks.length > 10 ? line * 0.6 : line * 1.2;
    for (const [px, py] of face.landmarks) {
      ctx.beginPath();
      ctx.arc(px, py, radius, 0, 2 * Math.PI);
      ctx.fill();
    }
    const label = String(index + 1);
    ctx.font = `bold ${line * 8}px sans-serif`;
    const width = ctx.measureText(label).width + line * 4;
    ctx.fillRect(x, Math.max(0, y - line * 10), width, line * 10);
    ctx.fillStyle = "#fff";
    ctx.fillText(label, x + line * 2, Math.max(line * 8, y - line * 2));
  });
  canvas.dataset.boxes = String(faces.length);
}

// Emotion scores as small horizontal bars, highest first. Without scores a bare "—": the
// reason is said once, in the note above the table, and in the cell's tooltip.
export function emotionBars(emotions, why = "") {
  const box = document.createElement("div");
  box.className = "bars";
  if (!emotions) {
    box.textContent = "—";
    box.title = why || "emotions unavailable or not asked for";
    return box;
  }
  const sorted = Object.entries(emotions).sort((a, b) => b[1] - a[1]);
  for (const [label, score] of sorted) {
    const row = document.createElement("div");
    row.className = "bar";
    const name = document.createElement("span");
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${Math.round(score * 100)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = score.toFixed(2);
    row.append(name, track, value);
    box.append(row);
  }
  return box;
}

export function cell(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = String(content);
  row.append(td);
  return td;
}

// The previous photo and its boxes go: an error is shown alone.
export function clearCanvas(canvas) {
  canvas.width = 0;
  canvas.height = 0;
  canvas.dataset.boxes = "0";
}

// Marks an error with what it is about ("second photo (holiday.jpg)"); showError says it first.
export function about(where, error) {
  const marked = error instanceof Error ? error : new Error(String(error));
  marked.where = where;
  return marked;
}

// Shows an error in a page's alert line: our API's "code: message", or a browser error.
export function showError(section, error) {
  const line = section.querySelector(".error");
  if (!error) {
    line.hidden = true;
    line.textContent = "";
    return;
  }
  const text = error.code ? `${error.code}: ${error.message}` : String(error.message || error);
  line.textContent = error.where ? `${error.where}: ${text}` : text;
  line.hidden = false;
}
