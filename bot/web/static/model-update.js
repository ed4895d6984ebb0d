// The admin page's "Rasa model" card: start a rolling model update and follow it, server
// by server. Shown to admins only (the API answers 403 to everyone else).
"use strict";

(() => {
  const { api, el, when } = Staff;
  const $ = (id) => document.getElementById(id);
  const RUNNING_EVERY = 1000;
  const IDLE_EVERY = 10000;
  let timer = null;

  function render(progress) {
    const running = Boolean(progress && progress.running);
    $("model-update-start").disabled = running;
    if (!progress) {
      $("model-update-summary").textContent = "No model update since the service started.";
      $("model-update-rows").replaceChildren();
      return running;
    }
    const done = progress.servers.filter((s) => s.state === "back").length;
    $("model-update-summary").textContent = running
      ? `Reloading: ${done} of ${progress.servers.length} servers done (started ${when(progress.started_at)} by ${progress.by}).`
      : progress.error
        ? `Stopped ${when(progress.finished_at)}: ${progress.error}`
        : `All ${progress.servers.length} servers reloaded ${when(progress.finished_at)}.`;
    $("model-update-rows").replaceChildren(...progress.servers.map((s) => el("tr", {},
      el("td", {}, s.server),
      el("td", {}, el("span", { class: `status ${s.state.replace(/ /g, "-")}` }, s.state)),
      el("td", {}, s.model || ""),
      el("td", {}, s.detail),
    )));
    return running;
  }

  async function refresh() {
    clearTimeout(timer);
    const me = Staff.me();
    if (!me) {  // /api/me has not answered yet: look again soon (no request meanwhile)
      timer = setTimeout(refresh, RUNNING_EVERY);
      return;
    }
    if (me.role !== "admin") return;  // the card is for admins; the API refuses the rest
    let running = false;
    try {
      running = render((await api("GET", "/api/rasa/reload")).reload);
      $("model-update").hidden = false;
    } catch (err) {
      if (err.status === 403) return;  // not an admin: the card stays hidden
      $("model-update-error").textContent = err.message;
    }
    timer = setTimeout(refresh, running ? RUNNING_EVERY : IDLE_EVERY);
  }

  $("model-update-start").addEventListener("click", async () => {
    $("model-update-error").textContent = "";
    try {
      render((await api("POST", "/api/rasa/reload")).reload);
    } catch (err) {
      $("model-update-error").textContent = err.message;
    }
    refresh();
  });

  refresh();
})();
