// Staff page over /staff/templates: list, edit with live preview, history and rollback.
// The staff token lives in sessionStorage under "clinicbot.staffToken" (shared by the staff
// pages) and goes out as a Bearer header.
"use strict";

const TOKEN_KEY = "clinicbot.staffToken";
const $ = (id) => document.getElementById(id);
let templates = [];
let current = null;
let previewTimer = null;

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: {
      "Content-Type": "application/json",
      Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}`,
    },
  });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin("Token inválido ou expirado.");
    throw new Error("unauthorized");
  }
  const body = await response.json();
  return { status: response.status, body };
}

function showLogin(message) {
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

async function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  const { body } = await api("/staff/templates");
  templates = body.templates;
  renderList();
}

function renderList() {
  const filter = $("filter").value.trim().toLowerCase();
  const category = $("category").value;
  const list = $("list");
  list.replaceChildren();
  for (const template of templates) {
    if (category && template.category !== category) continue;
    if (filter && !`${template.key} ${template.text}`.toLowerCase().includes(filter)) continue;
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("aria-current", String(current !== null && current.key === template.key));
    const name = document.createElement("span");
    name.textContent = template.key;
    if (template.edited) name.className = "edited";
    const text = document.createElement("small");
    text.textContent = template.text;
    button.append(name, text);
    button.addEventListener("click", () => open(template.key));
    item.append(button);
    list.append(item);
  }
}

async function open(key) {
  const { body } = await api(`/staff/templates/${encodeURIComponent(key)}`);
  current = body;
  $("editor").hidden = false;
  $("key").textContent = body.key;
  $("version").textContent = body.version;
  $("category-name").textContent = $("category").querySelector(`option[value="${body.category}"]`)?.textContent || body.category;
  $("text").value = body.text;
  $("saved").textContent = "";
  const chips = $("variables");
  chips.replaceChildren();
  for (const name of body.variables) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.textContent = `{${name}}`;
    chip.title = `exemplo: ${body.sample_values[name]}`;
    chip.addEventListener("click", () => insert(`{${name}}`));
    chips.append(chip);
  }
  if (!body.variables.length) chips.textContent = "nenhuma";
  renderButtons(body.buttons);
  renderList();
  await Promise.all([preview(), history()]);
}

function renderButtons(buttons) {
  const box = $("buttons-editor");
  box.replaceChildren();
  buttons.forEach((button, index) => {
    const label = document.createElement("label");
    label.textContent = `Botão ${index + 1} `;
    const input = document.createElement("input");
    input.value = button.title;
    input.dataset.payload = button.payload;
    label.append(input);
    box.append(label, document.createElement("br"));
  });
}

function editedButtons() {
  const inputs = [...$("buttons-editor").querySelectorAll("input")];
  return inputs.length ? inputs.map((input) => ({ title: input.value, payload: input.dataset.payload })) : null;
}

function insert(token) {
  const area = $("text");
  const at = area.selectionStart;
  area.value = area.value.slice(0, at) + token + area.value.slice(area.selectionEnd);
  area.focus();
  area.selectionStart = area.selectionEnd = at + token.length;
  schedulePreview();
}

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, 250);
}

async function preview() {
  if (!current) return;
  const { body } = await api(`/staff/templates/${encodeURIComponent(current.key)}/preview`, {
    method: "POST",
    body: JSON.stringify({ text: $("text").value }),
  });
  const buttons = editedButtons();
  const options = buttons ? "\n" + buttons.map((b, i) => `${i + 1}. ${b.title}`).join("\n") : "";
  $("preview").textContent = body.preview + options;
  $("problems").textContent = body.problems.join(" · ");
  $("save").disabled = body.problems.length > 0;
}

async function history() {
  const { body } = await api(`/staff/templates/${encodeURIComponent(current.key)}/history`);
  const rows = $("history");
  rows.replaceChildren();
  for (const version of body.versions) {
    const row = document.createElement("tr");
    const cells = [String(version.version), version.text, version.edited_by || "", new Date(version.created_at).toLocaleString("pt-BR")];
    for (const value of cells) {
      const cell = document.createElement("td");
      const pre = document.createElement("pre");
      pre.textContent = value;
      cell.append(pre);
      row.append(cell);
    }
    const action = document.createElement("td");
    if (version.version !== current.version) {
      const back = document.createElement("button");
      back.type = "button";
      back.textContent = "Restaurar";
      back.addEventListener("click", () => rollback(version.version));
      action.append(back);
    }
    row.append(action);
    rows.append(row);
  }
}

async function save(text) {
  const { status, body } = await api(`/staff/templates/${encodeURIComponent(current.key)}`, {
    method: "PUT",
    body: JSON.stringify({ text, buttons: editedButtons() }),
  });
  if (status !== 200) {
    $("problems").textContent = (body.problems || [body.error]).join(" · ");
    return;
  }
  $("saved").textContent = `Salvo (versão ${body.version}). Vale já para a próxima mensagem.`;
  await refresh();
}

async function rollback(version) {
  const { status, body } = await api(`/staff/templates/${encodeURIComponent(current.key)}/rollback`, {
    method: "POST",
    body: JSON.stringify({ version }),
  });
  if (status !== 200) {
    $("problems").textContent = (body.problems || [body.error]).join(" · ");
    return;
  }
  $("saved").textContent = `Versão ${version} restaurada como versão ${body.version}.`;
  await refresh();
}

async function refresh() {
  const key = current.key;
  const saved = $("saved").textContent;
  templates = (await api("/staff/templates")).body.templates;
  await open(key);
  $("saved").textContent = saved;
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  start().catch(() => {});
});
$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
});
$("filter").addEventListener("input", renderList);
$("category").addEventListener("change", renderList);
$("text").addEventListener("input", schedulePreview);
$("buttons-editor").addEventListener("input", schedulePreview);
$("save").addEventListener("click", () => save($("text").value));
$("reset").addEventListener("click", () => {
  $("text").value = current.default_text;
  schedulePreview();
});

if (sessionStorage.getItem(TOKEN_KEY)) start().catch(() => {});
else showLogin();
