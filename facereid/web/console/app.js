// The console's entry: tabs, the API key, the server's status line, and each page's wiring.
import { apiKey, getJSON, setApiKey } from "/ui/api.js";
import { offerAttributes, setupAnalyze } from "/ui/analyze.js";
import { setupCompare } from "/ui/compare.js";
import { setupGallery } from "/ui/gallery.js";
import { setupVideo } from "/ui/video.js";

function showTab(name) {
  for (const section of document.querySelectorAll("section.tab")) {
    section.hidden = section.id !== `tab-${name}`;
  }
  for (const button of document.querySelectorAll("nav button")) {
    button.classList.toggle("active", button.dataset.tab === name);
  }
}

async function refreshStatus() {
  const line = document.getElementById("server-status");
  try {
    const health = await getJSON("/health");
    const model = health.face_model || {};
    const clipOn = health.clip_service === "available";
    const clip = clipOn ? "emotions on" : "emotions off";
    line.textContent = `${health.status} · ${model.embedding_model || health.engine || "?"} · ${clip}`;
    line.title = health.warning || health.reason || "";
    showEmotionChoice(clipOn, health.reason);
    const engine = model.engine || health.engine;
    if (engine) {
      offerAttributes(engine);
      document.body.dataset.engine = engine;
    }
  } catch (error) {
    line.textContent = error.code ? `${error.code}: ${error.message}` : "server not reachable";
  }
}

// Without CLIP the emotions box cannot be honoured: unticked, disabled, and the server's
// reason said once in the note above the table (the cells show "—").
function showEmotionChoice(available, reason) {
  const box = document.getElementById("analyze-emotions");
  const note = document.getElementById("analyze-emotions-note");
  const why = `Emotions off: ${reason || "the emotion service is unavailable"}`;
  if (!available) {
    box.checked = false;
    box.disabled = true;
    document.body.dataset.emotions = "off";
  } else if (box.disabled) {
    box.disabled = false;
    box.checked = true;
    document.body.dataset.emotions = "on";
  }
  note.textContent = available ? "" : why;
  note.hidden = available;
  box.title = available ? "" : why;
}

function setupKey() {
  const form = document.getElementById("key-form");
  const input = document.getElementById("api-key");
  input.value = apiKey();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey(input.value.trim());
    refreshStatus();
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    input.value = "";
    setApiKey("");
    refreshStatus();
  });
}

function start() {
  setupKey();
  for (const button of document.querySelectorAll("nav button")) {
    button.addEventListener("click", () => {
      showTab(button.dataset.tab);
      history.replaceState(null, "", `#${button.dataset.tab}`);
    });
  }
  const wanted = location.hash.slice(1);
  showTab(["analyze", "compare", "video", "gallery"].includes(wanted) ? wanted : "analyze");
  setupAnalyze(document.getElementById("tab-analyze"));
  setupCompare(document.getElementById("tab-compare"));
  setupVideo(document.getElementById("tab-video"));
  setupGallery(document.getElementById("tab-gallery"));
  refreshStatus();
  document.body.dataset.ready = "true";
}

start();
