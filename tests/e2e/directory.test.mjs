// The session directory (SESSION_DIRECTORY=on) end to end under wrangler
// dev: the user's Durable Object records logins, the gate's endpoints list
// and end sessions, an ended session is refused at once, MAX_SESSIONS
// evicts the oldest, the revoke endpoint refuses cross-site POSTs, every
// change is logged (session_created, session_ended with why,
// session_evicted), ON_ANOMALY=end refuses a session seen from another
// browser family and logs the anomaly, and with the directory off the
// endpoints do not exist. Local wrangler dev gives no country in
// `request.cf`, so the country anomalies are proven natively
// (crates/core/tests/directory_flow.rs).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startGate, startOrigin, keygen, setCookies, wsConnect } from "./harness.mjs";

const COOKIE = "__Host-session";
const UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
const FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0";

/** The fingerprint the gate shows for a cookie: SHA-256 of the sid, 32 hex digits. */
const fingerprint = (cookie) => {
  const sid = JSON.parse(Buffer.from(cookie.split(".")[2], "base64url").toString("utf8")).sid;
  return crypto.createHash("sha256").update(sid).digest("hex").slice(0, 32);
};

function respond(req) {
  if (req.upgrade) return { echo: true };
  const url = new URL(req.url, "http://origin.invalid");
  if (url.pathname === "/login" && req.method === "POST") {
    return { status: 303, headers: { "X-Session-Login": url.searchParams.get("user"), Location: "/app" } };
  }
  return undefined;
}

describe("the session directory", () => {
  let origin, gate, off, strict;
  before(async () => {
    origin = await startOrigin(respond, { upgrade: true });
    const keys = await keygen("k1");
    gate = await startGate({
      name: "directory",
      vars: { ORIGIN_URL: origin.url, SESSION_DIRECTORY: "on", DIRECTORY_CHECK: "1", MAX_SESSIONS: "2" },
      secrets: { SESSION_KEYS: keys },
    });
    off = await startGate({ name: "directory-off", vars: { ORIGIN_URL: origin.url }, secrets: { SESSION_KEYS: keys } });
    strict = await startGate({
      name: "directory-strict",
      vars: { ORIGIN_URL: origin.url, SESSION_DIRECTORY: "on", ON_ANOMALY: "end" },
      secrets: { SESSION_KEYS: keys },
    });
  });
  after(async () => {
    await gate?.stop();
    await off?.stop();
    await strict?.stop();
    await origin?.close();
  });

  async function login(g, user) {
    const res = await g.fetch(`/login?user=${user}`, { method: "POST", headers: { "user-agent": UA } });
    await res.arrayBuffer();
    assert.equal(res.status, 303);
    const cookie = setCookies(res)[COOKIE].value;
    assert.ok(cookie.startsWith("v1.k1."));
    return cookie;
  }
  const withCookie = (cookie, headers = {}) => ({ cookie: `${COOKIE}=${cookie}`, ...headers });
  async function list(cookie) {
    const res = await gate.fetch("/.session-gate/sessions", { headers: withCookie(cookie) });
    const body = await res.text();
    return { status: res.status, res, body: res.status === 200 ? JSON.parse(body) : body };
  }
  async function revoke(cookie, body, headers = {}) {
    const res = await gate.fetch("/.session-gate/sessions/revoke", {
      method: "POST",
      headers: withCookie(cookie, { "content-type": "application/x-www-form-urlencoded", ...headers }),
      body,
    });
    const text = await res.text();
    return { status: res.status, body: text };
  }
  async function page(cookie, g = gate, ua = UA) {
    const res = await g.fetch("/app/page", { headers: withCookie(cookie, { "user-agent": ua }) });
    await res.arrayBuffer();
    return res.status;
  }
  /** The event lines a gate logged about session `id`, as [event, reason]. */
  const events = (g, id) => g.logs.map((l) => JSON.parse(l))
    .filter((l) => l.fingerprint === id && (l.event.startsWith("session_") || l.event === "anomaly"))
    .map((l) => [l.event, l.reason]);
  async function logged(g, id, want) {
    await g.waitForLog((l) => {
      const r = JSON.parse(l);
      return r.fingerprint === id && r.event === want[0] && r.reason === want[1];
    });
    return events(g, id);
  }

  it("lists the user's sessions, marking the current one", async () => {
    const a = await login(gate, "alice");
    const first = await list(a);
    assert.equal(first.status, 200);
    assert.equal(first.res.headers.get("cache-control"), "no-store");
    assert.equal(first.body.sessions.length, 1);
    const [s] = first.body.sessions;
    assert.deepEqual(Object.keys(s), ["id", "created", "last_seen", "country", "agent", "current"]);
    assert.equal(s.id, fingerprint(a));
    assert.equal(s.current, true);
    assert.equal(s.agent, "Chrome on Linux");
    assert.equal(typeof s.created, "number");
    const b = await login(gate, "alice");
    const both = await list(b);
    assert.deepEqual(both.body.sessions.map((x) => [x.id, x.current]), [[fingerprint(a), false], [fingerprint(b), true]]);
    assert.equal((await list("v1.k1.bogus.bogus")).status, 401);
    assert.equal((await gate.fetch("/.session-gate/sessions")).status, 401);
  });

  it("one session ends another, which is refused at once; then all others", async () => {
    const a = await login(gate, "bob");
    const b = await login(gate, "bob");
    assert.equal(await page(a), 200);
    const other = await login(gate, "carol");
    // Another user's fingerprint changes nothing.
    const foreign = await revoke(b, `id=${fingerprint(other)}`);
    assert.equal(foreign.status, 200);
    assert.deepEqual(JSON.parse(foreign.body), { ended: [] });
    assert.equal(await page(other), 200);
    const ended = await revoke(b, `id=${fingerprint(a)}`);
    assert.equal(ended.status, 200);
    assert.deepEqual(JSON.parse(ended.body), { ended: [fingerprint(a)] });
    assert.equal(await page(a), 401, "the ended session is refused on its next request");
    assert.equal(await page(b), 200);
    // JSON body, id=others.
    const c = await login(gate, "bob");
    const res = await gate.fetch("/.session-gate/sessions/revoke", {
      method: "POST",
      headers: withCookie(c, { "content-type": "application/json" }),
      body: JSON.stringify({ id: "others" }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ended: [fingerprint(b)] });
    assert.equal(await page(b), 401);
    assert.equal(await page(c), 200);
    assert.deepEqual((await list(c)).body.sessions.map((s) => s.id), [fingerprint(c)]);
    assert.equal((await revoke(c, "id=NOT-A-FINGERPRINT")).status, 400);
  });

  it("MAX_SESSIONS=2: a third login ends the oldest session", async () => {
    const a = await login(gate, "dave");
    const b = await login(gate, "dave");
    const c = await login(gate, "dave");
    assert.equal(await page(a), 401, "the oldest was evicted");
    assert.equal(await page(b), 200);
    assert.equal(await page(c), 200);
    assert.deepEqual((await list(c)).body.sessions.map((s) => s.id), [fingerprint(b), fingerprint(c)]);
  });

  it("refuses a cross-site revoke, and logout ends the session in the directory", async () => {
    const a = await login(gate, "erin");
    const b = await login(gate, "erin");
    const cross = await revoke(b, `id=${fingerprint(a)}`, { "sec-fetch-site": "cross-site" });
    assert.equal(cross.status, 403);
    assert.equal(await page(a), 200);
    const res = await gate.fetch("/.session-gate/logout", { method: "POST", headers: withCookie(a) });
    await res.arrayBuffer();
    assert.equal(res.status, 303);
    assert.deepEqual((await list(b)).body.sessions.map((s) => s.id), [fingerprint(b)]);
  });

  it("logs every change: created, ended with why, evicted", async () => {
    const a = await login(gate, "grace");
    const b = await login(gate, "grace");
    const [fa, fb] = [fingerprint(a), fingerprint(b)];
    assert.deepEqual(await logged(gate, fa, ["session_created", "login"]), [["session_created", "login"]]);
    const created = JSON.parse(gate.logs.find((l) => l.includes(fa)));
    assert.equal(created.sub, "grace");
    assert.equal(created.method, "POST");
    // Ended from the list.
    await revoke(b, `id=${fa}`);
    assert.deepEqual(await logged(gate, fa, ["session_ended", "revoked"]), [["session_created", "login"], ["session_ended", "revoked"]]);
    // Logout.
    const res = await gate.fetch("/.session-gate/logout", { method: "POST", headers: withCookie(b) });
    await res.arrayBuffer();
    assert.deepEqual(await logged(gate, fb, ["session_ended", "logout"]), [["session_created", "login"], ["session_ended", "logout"]]);
    // MAX_SESSIONS=2: the third login evicts the oldest.
    const c = await login(gate, "grace");
    const d = await login(gate, "grace");
    await login(gate, "grace");
    const fc = fingerprint(c);
    assert.deepEqual(await logged(gate, fc, ["session_evicted", "max_sessions"]),
      [["session_created", "login"], ["session_ended", "evicted"], ["session_evicted", "max_sessions"]]);
    assert.equal(await page(d), 200);
    // No line names a session by anything but its fingerprint.
    for (const line of gate.logs) for (const cookie of [a, b, c, d]) assert.ok(!line.includes(cookie.split(".")[2]), line);
  });

  it("ON_ANOMALY=end: another browser family ends the session and is logged", async () => {
    const a = await login(strict, "heidi");
    const fa = fingerprint(a);
    assert.equal(await page(a, strict), 200);
    assert.equal(await page(a, strict, UA), 200, "the same browser again: relied on");
    assert.equal(await page(a, strict, FIREFOX), 401, "another browser family: refused");
    const seen = await logged(strict, fa, ["session_ended", "anomaly"]);
    assert.deepEqual(seen, [["session_created", "login"], ["anomaly", "agent"], ["session_ended", "anomaly"]]);
    const anomaly = strict.logs.map((l) => JSON.parse(l)).find((l) => l.event === "anomaly" && l.fingerprint === fa);
    assert.deepEqual([anomaly.from, anomaly.to, anomaly.action, anomaly.sub], ["Chrome on Linux", "Firefox on Windows", "end", "heidi"]);
    // Log lines trail the responses: wait for the refused request's own line.
    assert.ok(await strict.waitForLog((l) => { const j = JSON.parse(l); return j.event === "deny" && j.reason === "revoked_session"; }));
    assert.equal(await page(a, strict), 401, "ended for good, from the first browser too");
    const res = await strict.fetch("/.session-gate/sessions", { headers: withCookie(a) });
    await res.arrayBuffer();
    assert.equal(res.status, 401);
  });

  it("a WebSocket closes within about DIRECTORY_CHECK once its session is ended from the list", async () => {
    const a = await login(gate, "ivan");
    const b = await login(gate, "ivan");
    const ws = await wsConnect(gate.url, "/ws", { Cookie: `${COOKIE}=${a}`, Origin: gate.url, "User-Agent": UA });
    assert.equal(ws.status, 101);
    ws.send("hello");
    for (let i = 0; i < 50 && !ws.messages.includes("hello"); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(ws.messages.includes("hello"), "the socket echoes");
    // Ending it from the list writes no KV key: only the directory knows.
    const started = Date.now();
    assert.equal((await revoke(b, `id=${fingerprint(a)}`)).status, 200);
    let limit;
    const code = await Promise.race([ws.closed, new Promise((r) => { limit = setTimeout(() => r("open"), 6000); })]);
    clearTimeout(limit);
    const ms = Date.now() - started;
    ws.end();
    assert.notEqual(code, "open", "still open 6 s after the session was ended");
    assert.equal(code, 1008);
    console.log(`# WebSocket closed ${ms} ms after the session was ended from the list (DIRECTORY_CHECK=1)`);
    assert.ok(ms <= 3000, `closed after ${ms} ms`);
    assert.ok(await gate.waitForLog((l) => l.includes('"connection_closed"') && l.includes(fingerprint(a))), "logged");
  });

  it("with the directory off, the endpoints do not exist", async () => {
    const a = await login(off, "frank");
    for (const [method, p] of [["GET", "/.session-gate/sessions"], ["POST", "/.session-gate/sessions/revoke"]]) {
      const res = await off.fetch(p, { method, headers: withCookie(a), ...(method === "POST" ? { body: "id=others" } : {}) });
      await res.arrayBuffer();
      assert.equal(res.status, 404, `${method} ${p}`);
    }
  });
});
