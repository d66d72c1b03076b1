// Video: submit a job, follow its progress, then show each identity on a timeline with its
// best face cropped from the local copy of the video (the API returns times and boxes, not
// pictures, so nothing but the upload leaves the browser).
import { ApiError, postForm, postJSON } from "/ui/api.js";
import { cell, colour, showError } from "/ui/draw.js";

const POLL_MS = 500;
const FINAL = new Set(["completed", "failed", "cancelled"]);

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function seek(video, time) {
  return new Promise((resolve, reject) => {
    const done = () => {
      video.removeEventListener("seeked", done);
      resolve();
    };
    video.addEventListener("seeked", done);
    video.onerror = () => reject(new Error("this browser cannot decode the video for thumbnails"));
    video.currentTime = Math.min(time, Math.max(0, (video.duration || time) - 0.01));
  });
}

function whenLoaded(video) {
  if (video.readyState >= 1) return Promise.resolve();
  return new Promise((resolve, reject) => {
    video.onloadedmetadata = () => resolve();
    video.onerror = () => reject(new Error("this browser cannot decode the video for thumbnails"));
  });
}

// Result times count from the first frame; the browser's clock is the stream's own, which
// may start later than 0 (start_s: 0.852 s for the shared Hamilton clip).
async function thumbnails(video, identities, canvases, start) {
  try {
    await whenLoaded(video);
    for (const [index, identity] of identities.entries()) {
      const face = identity.best_face;
      if (!face) continue;
      await seek(video, start + face.time_s);
      const [x, y, w, h] = face.bbox;
      const margin = 0.25 * Math.max(w, h);
      const canvas = canvases[index];
      canvas.getContext("2d").drawImage(
        video, x - margin, y - margin, w + 2 * margin, h + 2 * margin, 0, 0, canvas.width, canvas.height,
      );
      canvas.dataset.drawn = "true";
    }
  } catch (_) {
    // Thumbnails are a nicety: a codec the browser lacks leaves them blank.
  }
}

function timeline(container, result) {
  container.replaceChildren();
  const duration = result.video.duration_s ||
    Math.max(0.001, ...result.identities.map((identity) => identity.last_seen_s));
  const canvases = [];
  const table = document.createElement("table");
  table.className = "identities";
  const head = document.createElement("tr");
  for (const title of ["face", "who", "seen", "timeline"]) {
    const th = document.createElement("th");
    th.textContent = title;
    head.append(th);
  }
  table.append(head);
  result.identities.forEach((identity, index) => {
    const row = document.createElement("tr");
    row.className = "identity";
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 72;
    canvas.className = "thumb";
    canvases.push(canvas);
    cell(row, canvas);
    const who = identity.subject
      ? `${identity.subject} (${Number(identity.similarity).toFixed(2)})`
      : `person ${identity.identity_id + 1}`;
    const mood = identity.dominant_emotion ? ` · ${identity.dominant_emotion}` : "";
    cell(row, who + mood);
    cell(row, `${identity.first_seen_s.toFixed(1)}–${identity.last_seen_s.toFixed(1)} s · ` +
      `${identity.face_count} faces`);
    const track = document.createElement("div");
    track.className = "lane";
    for (const segment of identity.segments) {
      const bar = document.createElement("span");
      bar.className = "segment";
      bar.style.left = `${(100 * segment.start_s) / duration}%`;
      bar.style.width = `${Math.max(0.8, (100 * (segment.end_s - segment.start_s)) / duration)}%`;
      bar.style.background = colour(index);
      bar.title = `${segment.start_s.toFixed(1)}–${segment.end_s.toFixed(1)} s`;
      track.append(bar);
    }
    cell(row, track);
    table.append(row);
  });
  container.append(table);
  return canvases;
}

export function setupVideo(section) {
  const form = section.querySelector("#video-form");
  const cancel = section.querySelector("#video-cancel");
  const progress = section.querySelector("#video-progress");
  const state = section.querySelector("#video-state");
  const summary = section.querySelector(".summary");
  const container = section.querySelector("#video-timeline");
  const video = section.querySelector("#video-source");
  let jobId = null;

  cancel.addEventListener("click", async () => {
    if (!jobId) return;
    try {
      state.textContent = "cancelling…";
      await postJSON("/video/cancel", { job_id: jobId });
    } catch (error) {
      showError(section, error);
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = section.querySelector("#video-file").files[0];
    if (!file) return;
    showError(section, null);
    container.replaceChildren();
    summary.textContent = "";
    progress.value = 0;
    section.dataset.state = "busy";
    const body = new FormData();
    body.append("video", file, file.name);
    const fps = section.querySelector("#video-fps").value;
    if (fps) body.append("sample_fps", fps);
    const gallery = section.querySelector("#video-gallery").value.trim();
    if (gallery) body.append("gallery", gallery);
    try {
      state.textContent = "uploading…";
      let status = await postForm("/video/submit", body);
      jobId = status.job_id;
      cancel.disabled = false;
      while (!FINAL.has(status.status)) {
        const { frames_done: done, frames_total: total, fraction } = status.progress;
        progress.value = fraction ?? 0;
        state.textContent = `${status.status} · ${done}${total ? ` / ${total}` : ""} frames`;
        await sleep(POLL_MS);
        status = await postJSON("/video/status", { job_id: jobId });
      }
      state.textContent = status.status;
      if (status.status === "cancelled") {
        // The user asked for it: said plainly, not as an error (there is no result to fetch).
        section.dataset.state = "cancelled";
        return;
      }
      if (status.status === "failed") {
        const failure = status.error || {};
        throw new ApiError(0, failure.code || "job_failed", failure.message || "the job failed");
      }
      progress.value = 1;
      const result = await postJSON("/video/result", { job_id: jobId });
      summary.textContent = `${result.num_identities} people · ${result.frames_sampled} frames ` +
        `sampled, ${result.frames_with_faces} with faces · ${result.embedding_model}` +
        (result.video.truncated ? " · the stream broke off: partial result" : "");
      const canvases = timeline(container, result);
      const url = URL.createObjectURL(file);
      video.src = url;
      await thumbnails(video, result.identities, canvases, result.video.start_s ?? 0);
      URL.revokeObjectURL(url);
      section.dataset.state = "done";
    } catch (error) {
      state.textContent = "";  // not "uploading…" or "running" under the error
      showError(section, error);
      section.dataset.state = "error";
    } finally {
      cancel.disabled = true;
      jobId = null;
    }
  });
}
