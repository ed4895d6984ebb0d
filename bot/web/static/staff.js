// Shared by /console and /admin: the API token, JSON calls and small DOM helpers.
// The token lives in sessionStorage only, so closing the tab signs the user out.
"use strict";

const Staff = (() => {
  const KEY = "outage-bot-token";
  let started = null;

  function token() {
    return sessionStorage.getItem(KEY) || "";
  }

  // Build an element: el("button", {class: "x", onclick: f}, "text", child, ...).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Call a JSON API; throws an Error carrying the server's reason and status.
  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + token() };
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw Object.assign(new Error("the server cannot be reached"), { status: 0 });
    }
    let data = {};
    try {
      data = await response.json();
    } catch (err) {
      data = { error: response.statusText };
    }
    if (response.status === 401) signOut(data.error);
    if (!response.ok) {
      throw Object.assign(new Error(data.error || response.statusText), { status: response.status });
    }
    return data;
  }

  function showLogin(message) {
    const dialog = document.getElementById("login");
    dialog.querySelector(".error").textContent = message || "";
    if (!dialog.open) dialog.showModal();
    dialog.querySelector("input").focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    document.getElementById("who").textContent = "";
    showLogin(message || "Signed out.");
  }

  async function check() {
    try {
      const me = await api("GET", "/api/me");
      document.getElementById("who").textContent = `${me.name} (${me.role})`;
      document.getElementById("login").close();
      if (started) started(me);
    } catch (err) {
      if (err.status !== 401) showLogin(err.message);
    }
  }

  function loginDialog(role) {
    const hint = `outage-bot user add NAME --role ${role}`;
    const dialog = el("dialog", { id: "login", "aria-labelledby": "login-title" },
      el("form", {},
        el("h2", { id: "login-title" }, "Sign in"),
        el("label", {}, "API token ", el("input", { type: "password", autocomplete: "off" })),
        el("p", { class: "error", role: "alert" }),
        el("button", { type: "submit" }, "Sign in"),
        el("p", {}, el("small", {}, "Printed on the last line of ", el("code", {}, hint), "."))));
    document.body.append(dialog);
    return dialog;
  }

  // Ask for the token when there is none, then call ready(me) once it is known good.
  // ``role`` only tells a newcomer which kind of user to ask an admin for.
  function start(role, ready) {
    started = ready;
    const dialog = loginDialog(role);
    dialog.addEventListener("cancel", (event) => event.preventDefault());
    dialog.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = dialog.querySelector("input").value.trim();
      if (!value) return;
      sessionStorage.setItem(KEY, value);
      dialog.querySelector("input").value = "";
      check();
    });
    document.getElementById("signout").addEventListener("click", () => signOut());
    if (token()) check();
    else showLogin("");
  }

  // "45 s", "3 min", "1 h 20 min": how long a customer has waited.
  function waited(seconds) {
    if (seconds < 60) return `${seconds} s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    const today = new Date().toDateString() === date.toDateString();
    return today
      ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }

  // Typing in a field must not trigger page shortcuts.
  function typing(event) {
    const target = event.target;
    return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
  }

  // The page's keys, for people who keep a console open all day. ``keys`` run when no
  // field has the focus and no modifier is held; ``inField`` handlers get Escape and
  // "Ctrl+Enter" typed in a field, with the field, and return false when it is not
  // theirs. Nothing runs while the sign-in dialog is open.
  function shortcuts(keys, inField) {
    document.addEventListener("keydown", (event) => {
      if (document.getElementById("login").open) return;
      if (typing(event)) {
        const ctrlEnter = event.key === "Enter" && (event.ctrlKey || event.metaKey);
        const run = inField[ctrlEnter ? "Ctrl+Enter" : event.key];
        if (run && run(event.target) !== false) event.preventDefault();
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      // Enter and Space press a focused button; they are not shortcuts there.
      if (event.target.tagName === "BUTTON" && (event.key === "Enter" || event.key === " ")) return;
      const run = keys[event.key];
      if (run) { event.preventDefault(); run(); }
    });
  }

  // The consoles' change feed (/console/events): signs in with the first frame, calls
  // onMessage with each event ("ready", "changed") and onLink(up) as the link comes and
  // goes, and reconnects with a growing delay.
  function listen(onMessage, onLink, delay = 1000) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/console/events`);
    socket.onopen = () => socket.send(JSON.stringify({ token: token() }));
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "ready") { onLink(true); delay = 1000; }
      onMessage(message);
    };
    socket.onclose = () => {
      onLink(false);
      setTimeout(() => listen(onMessage, onLink, Math.min(delay * 2, 30000)), delay);
    };
  }

  return { api, el, start, waited, when, shortcuts, token, listen };
})();
