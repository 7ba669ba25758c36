// The unisend inbox page. Every message field is untrusted: it is only ever placed with
// textContent or as an attribute value, never as markup; the message HTML is shown only
// through /view/{id}.html inside <iframe sandbox=""> (no scripts, no same-origin).
"use strict";

const RAW_SHOWN = 2 * 1024 * 1024; // characters of raw source shown inline
// Does the HTML load anything remote (images, styles, fonts)? Plain links do not count.
const REMOTE = new RegExp([
  String.raw`\b(?:src|srcset|background|poster)\s*=\s*["']?\s*(?:https?:)?//`,
  String.raw`<link\b[^>]*\bhref\s*=\s*["']?\s*(?:https?:)?//`,
  String.raw`url\(\s*["']?\s*(?:https?:)?//`,
  "@import",
].join("|"), "i");

const $ = (id) => document.getElementById(id);
const state = {
  q: "", selected: null, detail: null, tab: "html", known: new Set(), first: true, remoteBlocked: false,
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function when(iso, full) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  if (full) return date.toLocaleString();
  const today = new Date().toDateString() === date.toDateString();
  return today ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString();
}

// -- the list ------------------------------------------------------------------------

let listTimer = null;
function refreshSoon(delay) {
  clearTimeout(listTimer);
  listTimer = setTimeout(loadList, delay);
}

async function loadList() {
  const params = new URLSearchParams({ limit: "200" });
  if (state.q) params.set("q", state.q);
  let data;
  try {
    data = await api(`/api/messages?${params}`);
  } catch (error) {
    $("count").textContent = "cannot reach the inbox";
    return;
  }
  const items = data.messages.map((message) => row(message));
  $("messages").replaceChildren(...items);
  for (const message of data.messages) state.known.add(message.id);
  state.first = false;
  $("empty").hidden = data.total > 0 || state.q !== "";
  const shown = data.messages.length;
  $("count").textContent = shown < data.total ? `${shown} of ${data.total}` : `${data.total} message${data.total === 1 ? "" : "s"}`;
}

function row(message) {
  const from = el("span", { class: "from", text: message.sender || "<>" });
  const time = el("span", { class: "when", text: when(message.time), title: when(message.time, true) });
  const subject = el("div", { class: "subject", text: message.subject || "(no subject)" });
  if (message.attachments) {
    subject.append(el("span", { class: "clip", text: String(message.attachments), title: "attachments" }));
  }
  const item = el("li", { "data-id": String(message.id), tabindex: "0" },
    el("div", { class: "row1" }, from, time), subject,
    el("div", { class: "to", text: message.recipients.join(", ") }));
  if (message.id === state.selected) item.classList.add("selected");
  if (!state.first && !state.known.has(message.id)) item.classList.add("fresh");
  item.addEventListener("click", () => select(message.id));
  item.addEventListener("keydown", (event) => { if (event.key === "Enter") select(message.id); });
  return item;
}

// -- one message -----------------------------------------------------------------------

async function select(id) {
  state.selected = id;
  for (const item of $("messages").children) {
    item.classList.toggle("selected", item.dataset.id === String(id));
  }
  let message;
  try {
    message = await api(`/api/messages/${id}`);
  } catch (error) {
    closeDetail();
    refreshSoon(0);
    return;
  }
  if (state.selected !== id) return;
  state.detail = message;
  $("placeholder").hidden = true;
  $("detail").hidden = false;
  $("d-subject").textContent = message.subject || "(no subject)";
  const header = (name) => message.headers.filter(([key]) => key.toLowerCase() === name)
    .map(([, value]) => value).join(", ");
  $("d-from").textContent = header("from") || message.sender || "<>";
  $("d-to").textContent = [header("to"), header("cc")].filter(Boolean).join(", ") || "(none)";
  $("d-envelope").textContent = `${message.sender || "<>"} \u2192 ${message.recipients.join(", ")}`;
  $("d-time").textContent = when(message.time, true);
  $("d-size").textContent = size(message.size);
  $("att-count").textContent = message.attachments.length ? `(${message.attachments.length})` : "";

  const frame = $("html-frame");
  frame.hidden = message.html === null;
  $("no-html").hidden = message.html !== null;
  frame.src = message.html === null ? "about:blank" : `/view/${id}.html`;
  state.remoteBlocked = message.html !== null && REMOTE.test(message.html);

  $("text-pane").textContent = message.text === null ? "(no text part)" : message.text;
  $("headers-pane").tBodies[0].replaceChildren(...message.headers.map(([name, value]) =>
    el("tr", {}, el("td", { text: name }), el("td", { text: value }))));
  $("raw-pane").textContent = "";
  $("raw-note").textContent = "";
  $("raw-link").href = `/api/messages/${id}/raw`;
  $("raw-link").setAttribute("download", `message-${id}.eml`);
  $("attachments-pane").replaceChildren(...(message.attachments.length ? message.attachments.map((part) =>
    el("li", {},
      el("a", { href: `/api/messages/${id}/attachments/${part.index}`, download: part.filename, text: part.filename }),
      el("span", { class: "info", text: `${part.content_type}, ${size(part.size)}${part.content_id ? `, cid:${part.content_id}` : ""}` }))
  ) : [el("li", { class: "none", text: "No attachments." })]));

  const tab = message.html !== null ? "html" : "text";
  for (const button of document.querySelectorAll(".tabs button")) {
    if (button.dataset.tab === "html") button.disabled = message.html === null;
  }
  showTab(tab);
}

async function showTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll(".tabs button")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  for (const pane of document.querySelectorAll(".pane")) {
    pane.classList.toggle("active", pane.dataset.pane === tab);
  }
  $("remote-bar").hidden = !(tab === "html" && state.remoteBlocked);
  if (tab === "raw" && state.detail && !$("raw-pane").textContent) {
    const id = state.detail.id;
    const response = await fetch(`/api/messages/${id}/raw`);
    const text = await response.text();
    if (state.detail.id !== id) return;
    $("raw-pane").textContent = text.length > RAW_SHOWN ? text.slice(0, RAW_SHOWN) : text;
    $("raw-note").textContent = text.length > RAW_SHOWN ? "(only the start is shown)" : "";
  }
}

function closeDetail() {
  state.selected = null;
  state.detail = null;
  $("detail").hidden = true;
  $("placeholder").hidden = false;
  $("html-frame").src = "about:blank";
}

async function deleteOne() {
  if (state.selected === null) return;
  await fetch(`/api/messages/${state.selected}`, { method: "DELETE" });
  closeDetail();
  refreshSoon(0);
}

async function deleteAll() {
  if (!confirm("Delete every message in the inbox?")) return;
  await fetch("/api/messages", { method: "DELETE" });
  closeDetail();
  refreshSoon(0);
}

// -- live updates ----------------------------------------------------------------------

function listen() {
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => {
    $("live").textContent = "live";
    $("live").classList.add("on");
    // (re)connected: catch up on what arrived before the stream started, which the first
    // list load may have missed
    refreshSoon(0);
  });
  events.addEventListener("error", () => { $("live").textContent = "reconnecting"; $("live").classList.remove("on"); });
  events.addEventListener("message", () => refreshSoon(50));
}

document.addEventListener("DOMContentLoaded", () => {
  $("search").addEventListener("input", () => { state.q = $("search").value.trim(); refreshSoon(200); });
  $("delete-all").addEventListener("click", deleteAll);
  $("delete-one").addEventListener("click", deleteOne);
  $("load-remote").addEventListener("click", () => {
    if (state.detail === null) return;
    $("html-frame").src = `/view/${state.detail.id}.html?remote=1`;
    state.remoteBlocked = false;
    $("remote-bar").hidden = true;
  });
  for (const button of document.querySelectorAll(".tabs button")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  loadList();
  listen();
});
