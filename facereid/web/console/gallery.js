// Galleries (docs/gallery.md): list, enrol, search by photo, subjects, and clusters of
// unnamed faces to name. Each form names its gallery; the last one typed fills the others.
import { fileToBase64, postJSON } from "/ui/api.js";
import { cell, showError } from "/ui/draw.js";

const PAGE = 50;

function fields(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function shareGalleryName(section) {
  const inputs = section.querySelectorAll('input[name="gallery"]');
  for (const input of inputs) {
    input.addEventListener("change", () => {
      for (const other of inputs) if (!other.value) other.value = input.value;
    });
  }
}

function guarded(section, form, work) {
  const result = form.querySelector(".result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(section, null);
    if (result) result.textContent = "";  // no "enrolled …" left under a failed enrol
    form.dataset.state = "busy";
    try {
      await work(fields(form));
      form.dataset.state = "done";
    } catch (error) {
      showError(section, error);
      form.dataset.state = "error";
    }
  });
}

async function refreshList(section) {
  const body = section.querySelector("#gallery-list tbody");
  body.replaceChildren();
  const answer = await postJSON("/gallery/list", {});
  const galleries = Array.isArray(answer) ? answer : answer.galleries || [];
  for (const item of galleries) {
    const row = document.createElement("tr");
    cell(row, item.gallery ?? item.name ?? "?");
    cell(row, item.faces ?? item.num_faces ?? item.count ?? "?");
    cell(row, item.embedding_model ?? "—");
    body.append(row);
  }
}

function setupSubjects(section, form) {
  const body = form.querySelector(".subjects tbody");
  const more = form.querySelector(".more");
  let cursor = null;
  let gallery = "";

  async function page(first) {
    if (first) body.replaceChildren();
    const request = { gallery, limit: PAGE };
    if (!first && cursor) request.cursor = cursor;
    const answer = await postJSON("/gallery/subjects", request);
    for (const item of answer.subjects) {
      const row = document.createElement("tr");
      cell(row, item.subject);
      cell(row, item.faces);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "delete";
      remove.addEventListener("click", async () => {
        if (!confirm(`Delete every face of ${item.subject} from ${gallery}?`)) return;
        try {
          await postJSON("/gallery/delete", { gallery, subject: item.subject });
          row.remove();
        } catch (error) {
          showError(section, error);
        }
      });
      cell(row, remove);
      body.append(row);
    }
    cursor = answer.next_cursor || null;
    more.hidden = !cursor;
  }

  guarded(section, form, async (values) => {
    gallery = values.gallery;
    await page(true);
  });
  more.addEventListener("click", () => page(false).catch((error) => showError(section, error)));
}

function setupClusters(section, form) {
  const list = form.querySelector(".clusters");
  guarded(section, form, async (values) => {
    list.replaceChildren();
    const answer = await postJSON("/gallery/cluster", {
      gallery: values.gallery,
      min_faces: Number(values.min_faces) || 3,
    });
    if (!answer.clusters.length) {
      list.textContent = "no cluster of unnamed faces this large";
      return;
    }
    for (const cluster of answer.clusters) {
      const item = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = `cluster ${cluster.cluster_id}: ${cluster.size} faces `;
      label.title = cluster.face_ids.join("\n");
      const name = document.createElement("input");
      name.type = "text";
      name.placeholder = "name this person";
      name.maxLength = 128;
      const save = document.createElement("button");
      save.type = "button";
      save.textContent = "name";
      save.addEventListener("click", async () => {
        if (!name.value.trim()) return;
        try {
          await postJSON("/gallery/assign", {
            gallery: values.gallery,
            face_ids: cluster.face_ids,
            subject: name.value.trim(),
          });
          item.textContent = `${cluster.size} faces named ${name.value.trim()}`;
        } catch (error) {
          showError(section, error);
        }
      });
      item.append(label, name, save);
      list.append(item);
    }
  });
}

export function setupGallery(section) {
  shareGalleryName(section);
  section.querySelector("#gallery-refresh").addEventListener("click", () => {
    showError(section, null);
    refreshList(section).catch((error) => showError(section, error));
  });

  const enroll = section.querySelector("#gallery-enroll");
  guarded(section, enroll, async (values) => {
    const answer = await postJSON("/gallery/enroll", {
      gallery: values.gallery,
      subject: values.subject.trim() || null,
      image_data: await fileToBase64(values.photo),
    });
    const extra = answer.num_faces > 1 ? ` (largest of ${answer.num_faces} faces)` : "";
    enroll.querySelector(".result").textContent =
      `enrolled ${answer.subject ?? "an unnamed face"} as ${answer.face_id}${extra}`;
    refreshList(section).catch(() => {});
  });

  const search = section.querySelector("#gallery-search");
  guarded(section, search, async (values) => {
    const body = search.querySelector(".matches tbody");
    body.replaceChildren();
    const answer = await postJSON("/gallery/search", {
      gallery: values.gallery,
      top_k: Number(values.top_k) || 5,
      image_data: await fileToBase64(values.photo),
    });
    if (!answer.matches.length) {
      const row = document.createElement("tr");
      cell(row, `no match above ${answer.threshold}`);
      body.append(row);
    }
    for (const match of answer.matches) {
      const row = document.createElement("tr");
      cell(row, match.subject ?? "(unnamed)");
      cell(row, Number(match.similarity).toFixed(3));
      cell(row, match.face_id);
      body.append(row);
    }
  });

  setupSubjects(section, section.querySelector("#gallery-subjects"));
  setupClusters(section, section.querySelector("#gallery-cluster"));
}
