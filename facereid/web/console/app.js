// The console's entry: tabs, the API key, the server's status line, and each page's wiring.
import { apiKey, getJSON, setApiKey } from "/ui/api.js";
import { setupAnalyze } from "/ui/analyze.js";
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
    const clip = health.clip_service === "available" ? "emotions on" : "emotions off";
    line.textContent = `${health.status} · ${model.embedding_model || health.engine || "?"} · ${clip}`;
    line.title = health.warning || health.reason || "";
  } catch (error) {
    line.textContent = error.code ? `${error.code}: ${error.message}` : "server not reachable";
  }
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
