// The dashboard's clock. It reads the gate's /.session-gate/me, which never
// counts as activity, and counts down the idle and absolute timeouts. When
// either runs out, or the gate stops knowing the session (signed out or
// revoked elsewhere), the page reloads: a page load without a valid session
// gets the gate's redirect to sign in.
"use strict";

(() => {
  const ME = "/.session-gate/me";
  const POLL_MS = 15000;
  const $ = (id) => document.getElementById(id);
  const status = $("session-status");
  let me = null; // the last answer from the gate
  let offset = 0; // the gate's clock minus this browser's, in ms
  let leaving = false;
  let checkAfter = 0; // no re-check at expiry before this time (browser clock)

  const gateNow = () => Date.now() + offset;
  const two = (n) => String(n).padStart(2, "0");

  function duration(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
  }

  /** A whole number of seconds for people: "4 s", "30 min", "12 h", "1 h 30 min". */
  function span(ms) {
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s} s`;
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = s % 60;
    const parts = [];
    if (h) parts.push(`${h} h`);
    if (m) parts.push(`${m} min`);
    if (rest) parts.push(`${rest} s`);
    return parts.join(" ");
  }

  function setTime(id, ms) {
    const el = $(id);
    const date = new Date(ms);
    el.dateTime = date.toISOString();
    const options = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
    // Another day (an absolute expiry tomorrow) says which.
    if (date.toDateString() !== new Date().toDateString()) options.weekday = "short";
    el.textContent = date.toLocaleString([], options);
  }

  function say(text) {
    status.hidden = false;
    status.textContent = text;
  }

  function leave(text) {
    if (leaving) return;
    leaving = true;
    say(text);
    // Through the gate: no valid session means a redirect to sign in.
    setTimeout(() => location.reload(), 500);
  }

  async function load() {
    if (leaving) return;
    let res;
    try {
      res = await fetch(ME, { cache: "no-store", credentials: "same-origin", headers: { accept: "application/json" } });
    } catch {
      say("The gate cannot be reached right now; trying again.");
      return;
    }
    if (res.status === 401) {
      leave("Your session has ended. Taking you to sign in\u2026");
      return;
    }
    if (!res.ok) {
      say(`The gate answered ${res.status}; trying again.`);
      return;
    }
    me = await res.json();
    offset = me.now - Date.now();
    status.hidden = true;
    for (const el of document.querySelectorAll(".me-sub")) el.textContent = me.sub;
    $("me-roles").textContent = me.roles && me.roles.length ? me.roles.join(", ") : "none";
    $("me-fingerprint").textContent = me.fingerprint;
    setTime("me-issued", me.issued_at);
    setTime("me-seen", me.last_seen);
    setTime("idle-at", me.idle_expires_at);
    setTime("abs-at", me.absolute_expires_at);
    $("idle-total").textContent = span(me.idle_expires_at - me.last_seen);
    $("abs-total").textContent = span(me.absolute_expires_at - me.issued_at);
    tick();
  }

  function meter(prefix, left, total) {
    const count = $(`${prefix}-left`);
    const bar = $(`${prefix}-bar`);
    count.textContent = duration(left);
    bar.value = total > 0 ? Math.max(0, Math.min(1, left / total)) : 0;
    const soon = left < Math.min(60000, total / 4);
    count.classList.toggle("soon", soon);
    bar.classList.toggle("soon", soon);
  }

  function tick() {
    if (!me || leaving) return;
    const now = gateNow();
    const idleLeft = me.idle_expires_at - now;
    const absLeft = me.absolute_expires_at - now;
    meter("idle", idleLeft, me.idle_expires_at - me.last_seen);
    meter("abs", absLeft, me.absolute_expires_at - me.issued_at);
    // Past either expiry: ask the gate (not a page load, which would count
    // as activity) whether the session is really over.
    if (Math.min(idleLeft, absLeft) < 0 && Date.now() >= checkAfter) {
      checkAfter = Date.now() + 1000;
      load();
    }
  }

  // Activity on purpose: any request through the gate may re-sign the cookie.
  $("still-here").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const res = await fetch("/whoami", { cache: "no-store", credentials: "same-origin", headers: { accept: "application/json" } });
      if (res.status === 401) {
        leave("Your session has ended. Taking you to sign in\u2026");
        return;
      }
      await load();
    } finally {
      button.disabled = false;
    }
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") load();
  });
  setInterval(tick, 250);
  setInterval(load, POLL_MS);
  load();
})();
