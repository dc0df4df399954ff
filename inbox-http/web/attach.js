// An agent's file: chosen with the paperclip or dropped on the composer,
// shown until sent, then uploaded to WhatsApp and sent with what the agent
// typed as its caption (POST /api/conversations/{id}/attachments).
"use strict";

// What WhatsApp takes from a business: photos, videos, audio, documents.
const ATTACH_TYPES = [
  "image/jpeg", "image/png", "video/mp4", "video/3gpp",
  "audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg",
  "application/pdf", "text/plain", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx",
].join(",");

// The largest file sent (this server's default limit).
const ATTACH_MAX = 16 * 1024 * 1024;

function fileSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// The paperclip, its (visually hidden) file input and the chip naming the
// chosen file; `changed(file)` is told of every choice (null: removed).
function attachControl(changed) {
  const input = el("input", { type: "file", class: "visually-hidden", "data-testid": "attach-input", accept: ATTACH_TYPES, tabindex: "-1", "aria-hidden": "true" });
  const chip = el("span", { class: "attachment hidden", "data-testid": "attachment", role: "status" });
  const button = el("button", { type: "button", "data-testid": "attach", "aria-label": t("attach.aria"), title: t("attach.aria"), onclick: () => input.click() }, "📎");
  const control = { button, input, chip, file: null };
  control.set = (file) => {
    if (file && file.size > ATTACH_MAX) {
      banner(t("attach.too-large", { name: file.name, size: fileSize(file.size), max: fileSize(ATTACH_MAX) }));
      file = null;
    }
    control.file = file;
    chip.replaceChildren();
    if (file) {
      chip.append(
        `📄 ${file.name} · ${fileSize(file.size)} `,
        el("button", { type: "button", class: "link", "data-testid": "attachment-remove", "aria-label": t("attach.remove", { name: file.name }), onclick: () => control.set(null) }, "✕"),
      );
    }
    chip.classList.toggle("hidden", !file);
    changed(file);
  };
  input.addEventListener("change", () => {
    control.set(input.files[0] || null);
    input.value = "";
  });
  return control;
}

// Lets files be dropped on the composer `node`.
function acceptDrops(node, control) {
  node.addEventListener("dragover", (ev) => {
    if ([...ev.dataTransfer.types].includes("Files")) ev.preventDefault();
  });
  node.addEventListener("drop", (ev) => {
    const file = ev.dataTransfer.files[0];
    if (!file) return;
    ev.preventDefault();
    control.set(file);
  });
}

// Sends `file` on conversation `id` with `caption` (WhatsApp shows no
// caption on audio: the text then follows as a reply of its own).
async function sendAttachment(id, file, caption) {
  const audio = file.type.startsWith("audio/");
  const q = new URLSearchParams({ version: drawnVersion(id), filename: file.name });
  if (caption && !audio) q.set("caption", caption);
  const out = await act(id, `attachments?${q}`, file);
  if (out && caption && audio) return act(id, "reply", { version: drawnVersion(id), text: caption });
  return out;
}
