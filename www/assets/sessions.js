// "Your sessions": the user's live sessions from the gate's
// /.session-gate/sessions (SESSION_DIRECTORY=on), with a "Sign out" per
// session and "Sign out everywhere else", both through
// /.session-gate/sessions/revoke. Everything from the gate's answer reaches
// the page as text (textContent, attributes), never as markup.
"use strict";

(() => {
  const LIST = "/.session-gate/sessions";
  const REVOKE = "/.session-gate/sessions/revoke";
  const $ = (id) => document.getElementById(id);
  const status = $("sessions-status");
  const table = $("sessions");
  const rows = $("session-rows");
  const template = $("session-row");
  const endOthers = $("end-others");
  let sessions = [];
  let leaving = false;

  const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  let regions = null;
  try {
    regions = new Intl.DisplayNames(["en"], { type: "region" });
  } catch {
    // an engine without display names shows the code
  }

  /** "just now", "2 minutes ago", "3 hours ago", "yesterday", "5 days ago". */
  function ago(ms) {
    const s = Math.max(0, (Date.now() - ms) / 1000);
    if (s < 45) return "just now";
    const m = Math.round(s / 60);
    if (m < 60) return relative.format(-m, "minute");
    const h = Math.round(s / 3600);
    if (h < 24) return relative.format(-h, "hour");
    return relative.format(-Math.round(s / 86400), "day");
  }

  /** A country code as a name ("United Kingdom"), or the code itself when unknown. */
  function place(code) {
    if (!code) return "Unknown";
    try {
      const name = regions ? regions.of(code) : code;
      return name && name !== code ? `${name} (${code})` : code;
    } catch {
      return code;
    }
  }

  const device = (s) => s.agent || "Unknown browser";
  const shortId = (s) => s.id.slice(0, 8);

  function say(text, kind = "info") {
    status.className = `notice notice-${kind}`;
    status.hidden = false;
    status.textContent = text;
  }

  function leave() {
    if (leaving) return;
    leaving = true;
    say("Your session has ended. Taking you to sign in\u2026");
    // Through the gate: no valid session means a redirect to sign in.
    setTimeout(() => location.reload(), 500);
  }

  function setTime(el, ms) {
    const date = new Date(ms);
    el.dateTime = date.toISOString();
    el.title = date.toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
    el.dataset.ms = String(ms);
    el.textContent = ago(ms);
  }

  /** A "Sign out" button whose accessible name says which session it ends. */
  function signOutButton(what) {
    const button = document.createElement("button");
    button.className = "button button-quiet";
    button.append("Sign out");
    const more = document.createElement("span");
    more.className = "sr-only";
    more.textContent = ` ${what}`;
    button.append(more);
    return button;
  }

  function row(s) {
    const tr = template.content.firstElementChild.cloneNode(true);
    tr.dataset.id = s.id;
    tr.querySelector(".device").textContent = device(s);
    tr.querySelector(".tag-current").hidden = !s.current;
    const code = tr.querySelector(".session-id code");
    code.textContent = shortId(s);
    code.title = s.id;
    tr.querySelector(".where").textContent = place(s.country);
    setTime(tr.querySelector(".created"), s.created);
    setTime(tr.querySelector(".seen"), s.last_seen);
    const cell = tr.querySelector(".action");
    if (s.current) {
      // This browser signs out the usual way: the cookie is cleared too.
      const form = document.createElement("form");
      form.method = "post";
      form.action = "/logout";
      const button = signOutButton("of this device");
      button.type = "submit";
      form.append(button);
      cell.append(form);
    } else {
      const button = signOutButton(`${device(s)}, session ${shortId(s)}`);
      button.type = "button";
      button.addEventListener("click", () => revoke(s.id, button));
      cell.append(button);
    }
    return tr;
  }

  function render() {
    // This device first, then the most recently active.
    const ordered = [...sessions].sort((a, b) => (b.current - a.current) || (b.last_seen - a.last_seen));
    rows.replaceChildren(...ordered.map(row));
    $("sessions-loading").hidden = true;
    table.hidden = ordered.length === 0;
    const others = ordered.filter((s) => !s.current).length;
    endOthers.hidden = others === 0;
    $("sessions-only").hidden = others !== 0;
  }

  async function load() {
    if (leaving) return;
    let res;
    try {
      res = await fetch(LIST, { cache: "no-store", credentials: "same-origin", headers: { accept: "application/json" } });
    } catch {
      say("The gate cannot be reached right now. Reload the page to try again.", "error");
      return;
    }
    if (res.status === 401) {
      leave();
      return;
    }
    if (res.status === 404) {
      // SESSION_DIRECTORY=off: the gate has no such endpoint.
      $("sessions-loading").hidden = true;
      $("sessions-off").hidden = false;
      return;
    }
    if (!res.ok) {
      say(`The gate answered ${res.status}. Reload the page to try again.`, "error");
      return;
    }
    const body = await res.json();
    sessions = Array.isArray(body.sessions) ? body.sessions : [];
    render();
  }

  /** Ends session `id` (a fingerprint, or "others"), then shows the list again. */
  async function revoke(id, button) {
    const buttons = [...document.querySelectorAll("#session-rows button, #end-others")];
    for (const b of buttons) b.disabled = true;
    let res;
    try {
      res = await fetch(REVOKE, {
        method: "POST",
        cache: "no-store",
        credentials: "same-origin",
        headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ id }),
      });
    } catch {
      for (const b of buttons) b.disabled = false;
      say("The gate cannot be reached right now, so nothing was signed out. Try again.", "error");
      button.focus();
      return;
    }
    if (res.status === 401) {
      leave();
      return;
    }
    if (!res.ok) {
      for (const b of buttons) b.disabled = false;
      say(`The gate answered ${res.status}, so nothing was signed out. Try again.`, "error");
      button.focus();
      return;
    }
    const { ended = [] } = await res.json();
    const names = new Map(sessions.map((s) => [s.id, `${device(s)} (session ${shortId(s)})`]));
    if (ended.length === 0) {
      say("That session had already ended.");
    } else if (id === "others") {
      say(ended.length === 1 ? "Signed out 1 other session." : `Signed out ${ended.length} other sessions.`, "success");
    } else {
      say(`Signed out ${names.get(ended[0]) ?? "that session"}.`, "success");
    }
    await load();
    // The button that had focus is gone with its row.
    $("list-title").focus();
  }

  endOthers.addEventListener("click", () => revoke("others", endOthers));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") load();
  });
  // "2 minutes ago" stays true while the page is open.
  setInterval(() => {
    for (const el of document.querySelectorAll("#session-rows time")) el.textContent = ago(Number(el.dataset.ms));
  }, 15000);
  load();
})();
