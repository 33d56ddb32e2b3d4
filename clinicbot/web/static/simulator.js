// WhatsApp-like simulator: sends through /simulator/api/send (a real Z-API webhook call to the
// rasa server) and shows what the fake Z-API delivered to this phone (/simulator/api/messages).
"use strict";

const POLL_MS = 1000;
const STATUS_POLL_MS = 3000;
const MAX_STORED = 300;

const $ = (id) => document.getElementById(id);
const ui = {
  phone: $("phone"), name: $("name"), newChat: $("new-chat"), messages: $("messages"),
  composer: $("composer"), text: $("text"), status: $("status-line"), presence: $("presence"),
  sheet: $("sheet"), sheetTitle: $("sheet-title"), sheetOptions: $("sheet-options"),
  sheetClose: $("sheet-close"), avatar: $("avatar"),
};

const state = { phone: "", after: 0, transcript: [], rasaUp: null, polling: false };

function randomPhone() {
  let digits = "55119";
  for (let i = 0; i < 8; i += 1) digits += Math.floor(Math.random() * 10);
  return digits;
}

function formatPhone(digits) {
  const m = /^55(\d{2})(\d{4,5})(\d{4})$/.exec(digits);
  return m ? `+55 ${m[1]} ${m[2]}-${m[3]}` : digits;
}

function timeLabel(ms) {
  return new Date(ms).toLocaleTimeString("pt-BR", { hour: "2-digit", minute: "2-digit" });
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

// WhatsApp's inline formatting: *bold*, _italic_, ~strike~.
function formatText(text) {
  return escapeHtml(text)
    .replace(/\*([^*\n]+)\*/g, "<strong>$1</strong>")
    .replace(/(^|\W)_([^_\n]+)_(?=\W|$)/g, "$1<em>$2</em>")
    .replace(/~([^~\n]+)~/g, "<s>$1</s>");
}

// --- persistence: one transcript per phone, so a reload keeps the conversation ---------------
const storageKey = (phone) => `clinicbot-simulator:${phone}`;

function save() {
  const data = { after: state.after, transcript: state.transcript.slice(-MAX_STORED) };
  localStorage.setItem(storageKey(state.phone), JSON.stringify(data));
  localStorage.setItem("clinicbot-simulator:phone", state.phone);
  localStorage.setItem("clinicbot-simulator:name", ui.name.value);
}

function load(phone) {
  state.phone = phone;
  ui.phone.value = formatPhone(phone);
  const stored = JSON.parse(localStorage.getItem(storageKey(phone)) || "null");
  state.after = stored ? stored.after : 0;
  state.transcript = stored ? stored.transcript : [];
  ui.messages.replaceChildren();
  state.transcript.forEach(render);
  scrollDown();
}

// --- rendering ------------------------------------------------------------------------------
function scrollDown() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function tickFor(entry) {
  const span = document.createElement("span");
  span.className = "ticks";
  if (entry.state === "pending") span.textContent = "🕓";
  else if (entry.state === "failed") {
    span.textContent = "!";
    span.classList.add("failed");
    span.title = entry.error || "Não enviada";
  } else {
    span.textContent = "✓✓";
    if (entry.state === "read") span.classList.add("read");
  }
  return span;
}

function bubble(entry, direction) {
  const div = document.createElement("div");
  div.className = `bubble ${direction}`;
  div.dataset.key = entry.key;
  const body = document.createElement("span");
  body.innerHTML = formatText(entry.text);
  div.append(body);
  return div;
}

function addMeta(div, entry) {
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = timeLabel(entry.time);
  if (entry.direction === "out") meta.append(tickFor(entry));
  div.append(meta);
}

function render(entry) {
  if (entry.direction === "out") {
    const div = bubble(entry, "out");
    addMeta(div, entry);
    ui.messages.append(div);
    return;
  }
  const div = bubble(entry, "in");
  if (entry.kind === "option-list" && entry.optionList) {
    const open = document.createElement("button");
    open.type = "button";
    open.className = "list-button";
    open.textContent = `☰ ${entry.optionList.buttonLabel || "Ver opções"}`;
    open.addEventListener("click", () => openList(entry));
    addMeta(div, entry);
    div.append(open);
    ui.messages.append(div);
    return;
  }
  addMeta(div, entry);
  ui.messages.append(div);
  if (entry.kind === "button-list" && entry.buttonList) {
    const group = document.createElement("div");
    group.className = "buttons";
    (entry.buttonList.buttons || []).forEach((button) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = button.label;
      b.addEventListener("click", () => sendReply("button", button.id || button.label,
        button.label, entry.messageId));
      group.append(b);
    });
    ui.messages.append(group);
  }
}

function rerender(entry) {
  const old = ui.messages.querySelector(`[data-key="${entry.key}"]`);
  if (!old) return;
  const div = bubble(entry, entry.direction);
  addMeta(div, entry);
  old.replaceWith(div);
}

function openList(entry) {
  const list = entry.optionList;
  ui.sheetTitle.textContent = list.title || entry.text;
  ui.sheetOptions.replaceChildren();
  (list.options || []).forEach((option) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = option.title;
    if (option.description) {
      const small = document.createElement("small");
      small.textContent = option.description;
      b.append(small);
    }
    b.addEventListener("click", () => {
      closeList();
      sendReply("list", option.id || option.title, option.title, entry.messageId);
    });
    li.append(b);
    ui.sheetOptions.append(li);
  });
  ui.sheet.hidden = false;
}

function closeList() {
  ui.sheet.hidden = true;
}

// --- sending --------------------------------------------------------------------------------
function addEntry(entry) {
  state.transcript.push(entry);
  render(entry);
  scrollDown();
  save();
}

async function post(payload, text) {
  const entry = {
    key: `out-${Date.now()}-${Math.random()}`, direction: "out", text, time: Date.now(),
    state: "pending",
  };
  addEntry(entry);
  try {
    const response = await fetch("/simulator/api/send", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ phone: state.phone, name: ui.name.value, ...payload }),
    });
    const answer = await response.json();
    if (response.ok) {
      // The webhook may return only after the assistant answered: then it was already read.
      const answered = state.transcript.some((e) => e.direction === "in" && e.time >= entry.time);
      entry.state = answered ? "read" : "delivered";
      entry.messageId = answer.messageId;
    } else {
      entry.state = "failed";
      entry.error = answer.message || `HTTP ${response.status}`;
      if (response.status === 503) showStatus(answer.message);
    }
  } catch (error) {
    entry.state = "failed";
    entry.error = "Sem conexão com o serviço da clínica.";
  }
  rerender(entry);
  save();
}

function sendReply(type, id, title, referenceMessageId) {
  post({ reply: { type, id, title, referenceMessageId } }, title);
}

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.text.value.trim();
  if (!text) return;
  ui.text.value = "";
  post({ text }, text);
});

// --- receiving ------------------------------------------------------------------------------
function markRead() {
  state.transcript.forEach((entry) => {
    if (entry.direction === "out" && entry.state === "delivered") {
      entry.state = "read";
      rerender(entry);
    }
  });
}

async function poll() {
  if (state.polling) return;
  state.polling = true;
  const phone = state.phone;
  try {
    const url = `/simulator/api/messages?phone=${encodeURIComponent(phone)}&after=${state.after}`;
    const response = await fetch(url);
    if (response.ok && phone === state.phone) {
      const answer = await response.json();
      if (answer.last < state.after) {
        state.after = 0; // the sandbox restarted and numbers messages from 1 again
        return;
      }
      if (answer.messages.length) markRead();
      answer.messages.forEach((m) => addEntry({
        key: `in-${m.seq}`, direction: "in", kind: m.kind, text: m.message, time: m.momment,
        messageId: m.messageId, optionList: m.optionList, buttonList: m.buttonList,
      }));
      state.after = Math.max(state.after, answer.last);
      save();
    }
  } catch (error) {
    // The sandbox may be restarting; the next poll tries again.
  } finally {
    state.polling = false;
  }
}

// --- assistant status -----------------------------------------------------------------------
function showStatus(message) {
  ui.status.textContent = message;
  ui.status.hidden = !message;
}

async function checkStatus() {
  let up = false;
  try {
    const response = await fetch("/simulator/api/status");
    up = response.ok && (await response.json()).rasa === "up";
  } catch (error) {
    up = false;
  }
  state.rasaUp = up;
  ui.presence.textContent = up ? "online" : "iniciando…";
  showStatus(up ? "" : "O assistente está iniciando…");
  setTimeout(checkStatus, up ? STATUS_POLL_MS * 5 : STATUS_POLL_MS);
}

// --- identity -------------------------------------------------------------------------------
ui.phone.addEventListener("change", () => {
  const digits = ui.phone.value.replace(/\D/g, "");
  if (/^\d{10,15}$/.test(digits)) load(digits);
  else ui.phone.value = formatPhone(state.phone);
  save();
});
ui.name.addEventListener("change", save);
ui.newChat.addEventListener("click", () => {
  load(randomPhone());
  save();
});
ui.sheetClose.addEventListener("click", closeList);
ui.sheet.addEventListener("click", (event) => { if (event.target === ui.sheet) closeList(); });

const clinicName = document.querySelector(".phone").dataset.clinicName;
ui.avatar.textContent = clinicName.charAt(0);
ui.name.value = localStorage.getItem("clinicbot-simulator:name") || "Paciente Teste";
load(localStorage.getItem("clinicbot-simulator:phone") || randomPhone());
save();
checkStatus();
setInterval(poll, POLL_MS);
poll();
