// The early-warning banner on the comms console: a visual cue (no sound) while reports
// rise in areas no incident covers, linking to the dashboard where alerts are acted on.
"use strict";

(() => {
  const CHECK_MS = 15000;
  const banner = Staff.el("div", { id: "alert-banner", role: "alert", hidden: true });
  document.querySelector("header").after(banner);

  async function check() {
    const login = document.getElementById("login");
    if (!login || login.open) return;  // not signed in yet
    let alerts;
    try {
      ({ alerts } = await Staff.api("GET", "/api/alerts"));
    } catch (err) {
      return;  // the page itself reports lost connections and sign-outs
    }
    banner.hidden = !alerts.length;
    banner.replaceChildren(...(alerts.length ? [
      Staff.el("strong", {}, "Early warning: "),
      alerts.map((a) => `${a.reports} customers reporting in ${a.area_codes.join(", ")}`).join("; "),
      " with no incident open. ",
      Staff.el("a", { href: "/dashboard" }, "Review on the dashboard"),
    ] : []));
  }

  setTimeout(check, 500);
  setInterval(check, CHECK_MS);
})();
