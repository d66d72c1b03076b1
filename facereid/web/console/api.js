// Calls to the API on this origin. The key lives in sessionStorage (gone with the tab) and
// travels in the X-API-Key header, never in a URL; images travel as base64 in JSON bodies.
const KEY_SLOT = "facereid.apiKey";

export function apiKey() {
  return sessionStorage.getItem(KEY_SLOT) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_SLOT, key);
  else sessionStorage.removeItem(KEY_SLOT);
}

// An error answered by the API: our {"error": {"code", "message"}} shape, shown as it is.
export class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail || {};
  }
  toString() {
    return `${this.code}: ${this.message}`;
  }
}

function headers(extra) {
  const out = { ...extra };
  const key = apiKey();
  if (key) out["X-API-Key"] = key;
  return out;
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (response.ok) return body;
  const error = body && typeof body.error === "object" ? body.error : null;
  if (error) throw new ApiError(response.status, error.code, error.message, error);
  throw new ApiError(response.status, "http_" + response.status, response.statusText || "request failed");
}

export async function postJSON(path, payload) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(payload),
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  return answer(response);
}

export async function postForm(path, form) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({}),
    body: form,
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  return answer(response);
}

export async function getJSON(path) {
  const response = await fetch(path, { headers: headers({}), credentials: "omit" });
  return answer(response);
}

// A File as base64 without the data: prefix (the API accepts both; plain is smaller).
export function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(new ApiError(0, "unreadable_file", `cannot read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

// Same-person cosine thresholds per embedding model family, as the server uses for video
// identities (facereid/video/identities.py): dlib measured on real photos, ArcFace buffalo_l
// the common 0.45.
const THRESHOLDS = { dlib: 0.91, insightface: 0.45 };

export function sameThreshold(embeddingModel) {
  const family = String(embeddingModel || "").split("/", 1)[0];
  return THRESHOLDS[family] ?? THRESHOLDS.insightface;
}
