// The outage dashboard: /api/stats drawn as a chart and tables, refreshed when the
// console events socket says something changed (polling is only the fallback).
"use strict";

(() => {
  const { api, el, waited, when, shortcuts } = Staff;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 10000;        // without the live link
  const LIVE_REFRESH_MS = 60000;   // with it: only the clock moves the figures
  const TITLE = document.title;
  let me = null;
  let live = false;
  let figures = null;
  let sortKey = "growth";
  let sortDown = true;
  let draftAlert = null;
  let loading = false;
  let again = false;

  function status(text, isError) {
    $("status").textContent = text || "";
    $("status").className = isError ? "error" : "";
  }

  const canEdit = () => me && (me.role === "comms" || me.role === "admin");
  const number = (value) => (value === null || value === undefined ? "–" : String(value));
  const seconds = (value) => (value === null || value === undefined ? "–" : `${value.toFixed(1)} s`);

  // The server renders the chart as SVG (presentation attributes only, no styles); it is
  // parsed as XML and adopted, never assigned as HTML.
  function drawChart(chart) {
    const doc = new DOMParser().parseFromString(chart.svg, "image/svg+xml");
    const svg = doc.documentElement;
    if (svg.nodeName !== "svg") return;
    $("chart").replaceChildren(document.importNode(svg, true));
    $("chart-caption").textContent = chart.description;
  }

  function sortedAreas() {
    const rows = [...figures.reports.areas];
    rows.sort((a, b) => {
      const x = a[sortKey];
      const y = b[sortKey];
      const order = typeof x === "string" ? x.localeCompare(y) : x - y;
      return sortDown ? -order : order;
    });
    return rows;
  }

  function drawAreas() {
    for (const th of document.querySelectorAll("#areas th")) {
      if (th.dataset.key === sortKey) th.setAttribute("aria-sort", sortDown ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    }
    const rows = sortedAreas().map((a) =>
      el("tr", {},
        el("td", {}, a.area_code),
        el("td", {}, a.place),
        el("td", { class: "num" }, a.last_15m),
        el("td", { class: "num" }, a.last_hour),
        el("td", { class: "num" }, a.hour_before),
        el("td", { class: a.growth >= 2 ? "num rising" : "num" }, `×${a.growth.toFixed(1)}`),
        el("td", { class: "num" }, a.total_24h)));
    $("areas").tBodies[0].replaceChildren(...(rows.length ? rows
      : [el("tr", {}, el("td", { colspan: 7 }, "No reports in the last 24 hours."))]));
  }

  function drawIncidents() {
    const rows = figures.incidents.map((i) =>
      el("tr", {},
        el("td", {}, i.reference),
        el("td", {}, i.title),
        el("td", {}, i.status),
        el("td", {}, i.area_codes.join(", ")),
        el("td", {}, i.eta ? when(i.eta) : "not known"),
        el("td", { class: "num" }, i.customers_told),
        el("td", { class: "num" }, i.subscribers_waiting),
        el("td", { class: "num" }, i.escalations_open)));
    $("incidents").tBodies[0].replaceChildren(...(rows.length ? rows
      : [el("tr", {}, el("td", { colspan: 8 }, "No active incidents."))]));
  }

  // Counts as labelled meters: the bar is decoration, the number is the text.
  function bars(list, counts, label) {
    const entries = Object.entries(counts);
    const most = Math.max(1, ...entries.map(([, n]) => n));
    list.replaceChildren(...(entries.length
      ? entries.map(([name, n]) => el("li", {},
          el("span", {}, label(name)),
          el("meter", { min: 0, max: most, value: n, "aria-label": `${label(name)}: ${n}` }),
          el("span", { class: "num" }, n)))
      : [el("li", {}, "Nobody.")]));
  }

  function drawQueue() {
    const q = figures.queue;
    $("queue-length").textContent = q.length;
    $("queue-oldest").textContent = q.length ? waited(q.oldest_wait_seconds) : "–";
    bars($("by-reason"), q.by_reason, (reason) => reason.replace(/_/g, " "));
    bars($("by-priority"), q.by_priority, (p) => `priority ${p}`);
  }

  function drawContainment() {
    const c = figures.containment;
    const row = (r, head) =>
      el("tr", { class: head ? "total" : null },
        el(head ? "th" : "td", head ? { scope: "row" } : {}, r.channel === "all" ? "All channels" : r.channel),
        el("td", { class: "num" }, r.conversations),
        el("td", { class: "num" }, r.share === null ? "–" : `${Math.round(r.share * 100)} %`),
        el("td", { class: "num" }, seconds(r.first_reply_seconds.median)),
        el("td", { class: "num" }, seconds(r.first_reply_seconds.p95)));
    $("containment").tBodies[0].replaceChildren(...c.channels.map((r) => row(r, false)), row(c.overall, true));
  }

  function drawAlerts() {
    const alerts = figures.alerts;
    $("alerts-card").classList.toggle("raised", alerts.length > 0);
    $("alert-count").hidden = !alerts.length;
    $("alert-count").textContent = alerts.length;
    document.title = alerts.length ? `(${alerts.length} alert${alerts.length > 1 ? "s" : ""}) ${TITLE}` : TITLE;
    if (!alerts.length) {
      $("alerts").replaceChildren(el("li", { class: "none" }, "No early warnings: reports are within their usual rates."));
      return;
    }
    const places = new Map(figures.reports.areas.map((r) => [r.area_code, r.place]));
    const named = (code) => (places.get(code) ? `${code} (${places.get(code)})` : code);
    $("alerts").replaceChildren(...alerts.map((a) => el("li", { class: "alert", dataset: { id: a.id } },
      el("strong", {}, `Reports rising in ${a.area_codes.map(named).join(", ")}`),
      el("p", {}, `${a.reports} customers since ${when(a.since)}, and no incident covers these areas.`),
      ...a.sample_messages.map((m) => el("blockquote", {}, m)),
      canEdit()
        ? el("div", { class: "actions" },
            el("button", { type: "button", class: "open-incident", onclick: () => draft(a) }, "Open incident…"),
            el("button", { type: "button", class: "secondary dismiss", onclick: () => dismiss(a) }, "Dismiss"))
        : el("p", { class: "hint" }, "Comms staff can open an incident from this alert."))));
  }

  function draw() {
    if (figures.chart) drawChart(figures.chart);
    drawAreas();
    drawIncidents();
    drawQueue();
    drawContainment();
    drawAlerts();
    $("updated").textContent = `updated ${when(figures.generated_at)}`;
  }

  // One request at a time; a change announced meanwhile asks for one more.
  async function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      figures = await api("GET", "/api/stats?chart=svg");
      draw();
      if ($("status").className === "error") status("");
    } catch (err) {
      status(`Could not load the figures: ${err.message}`, true);
    } finally {
      loading = false;
      if (again) { again = false; refresh(); }
    }
  }

  function draft(alert) {
    draftAlert = alert;
    const places = alert.area_codes.join(", ");
    $("d-title").value = `Faults reported in ${places}`;
    $("d-areas").value = places;
    $("d-cause").value = "";
    $("d-eta").value = "";
    $("d-error").textContent = "";
    $("incident-dialog").showModal();
    $("d-title").focus();
  }

  async function openIncident(event) {
    event.preventDefault();
    const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);
    const eta = $("d-eta").value;
    const body = {
      title: $("d-title").value.trim(),
      areas: list($("d-areas").value),
      services: list($("d-services").value),
      cause: $("d-cause").value.trim(),
    };
    if (eta) body.eta = new Date(eta).toISOString();
    try {
      const incident = await api("POST", `/api/alerts/${draftAlert.id}/incident`, body);
      $("incident-dialog").close();
      status(`Incident ${incident.reference} opened; customers who were told "no known problem" will hear from us.`);
      refresh();
    } catch (err) {
      $("d-error").textContent = err.message;
    }
  }

  async function dismiss(alert) {
    try {
      await api("POST", `/api/alerts/${alert.id}/dismiss`);
      status(`Alert for ${alert.area_codes.join(", ")} dismissed.`);
      refresh();
    } catch (err) {
      status(err.message, true);
    }
  }

  function showLink(up) {
    live = up;
    $("link").textContent = up ? "● live" : "○ offline: reconnecting, refreshing every 10 s";
    $("link").className = up ? "" : "down";
  }

  // "changed" comes within a second of a message, a hand-off or an alert moving.
  const listen = () => Staff.listen((message) => {
    if (message.type === "ready" || message.type === "changed") refresh();
  }, showLink);

  function sortBy(key) {
    sortDown = key === sortKey ? !sortDown : key !== "area_code" && key !== "place";
    sortKey = key;
    if (figures) drawAreas();
  }

  for (const th of document.querySelectorAll("#areas th")) {
    th.querySelector("button").addEventListener("click", () => sortBy(th.dataset.key));
  }
  $("incident-form").addEventListener("submit", openIncident);
  $("d-cancel").addEventListener("click", () => $("incident-dialog").close());
  shortcuts({
    a: () => { const first = document.querySelector("#alerts button"); if (first) first.focus(); },
    g: () => { sortKey = "growth"; sortDown = true; if (figures) drawAreas(); },
    u: refresh,
  }, {});

  let sinceRefresh = 0;
  Staff.start("agent", (user) => {
    me = user;
    refresh();
    if (!window.refreshing) {
      listen();
      window.refreshing = setInterval(() => {
        sinceRefresh += REFRESH_MS;
        if (live && sinceRefresh < LIVE_REFRESH_MS) return;
        sinceRefresh = 0;
        refresh();
      }, REFRESH_MS);
    }
  });
})();
