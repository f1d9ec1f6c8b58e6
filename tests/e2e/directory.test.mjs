// The session directory (SESSION_DIRECTORY=on) end to end under wrangler
// dev: the user's Durable Object records logins, the gate's endpoints list
// and end sessions, an ended session is refused at once, MAX_SESSIONS
// evicts the oldest, the revoke endpoint refuses cross-site POSTs, and with
// the directory off the endpoints do not exist.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startGate, startOrigin, keygen, setCookies } from "./harness.mjs";

const COOKIE = "__Host-session";
const UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";

/** The fingerprint the gate shows for a cookie: SHA-256 of the sid, 32 hex digits. */
const fingerprint = (cookie) => {
  const sid = JSON.parse(Buffer.from(cookie.split(".")[2], "base64url").toString("utf8")).sid;
  return crypto.createHash("sha256").update(sid).digest("hex").slice(0, 32);
};

function respond(req) {
  const url = new URL(req.url, "http://origin.invalid");
  if (url.pathname === "/login" && req.method === "POST") {
    return { status: 303, headers: { "X-Session-Login": url.searchParams.get("user"), Location: "/app" } };
  }
  return undefined;
}

describe("the session directory", () => {
  let origin, gate, off;
  before(async () => {
    origin = await startOrigin(respond);
    const keys = await keygen("k1");
    gate = await startGate({
      name: "directory",
      vars: { ORIGIN_URL: origin.url, SESSION_DIRECTORY: "on", DIRECTORY_CHECK: "1", MAX_SESSIONS: "2" },
      secrets: { SESSION_KEYS: keys },
    });
    off = await startGate({ name: "directory-off", vars: { ORIGIN_URL: origin.url }, secrets: { SESSION_KEYS: keys } });
  });
  after(async () => {
    await gate?.stop();
    await off?.stop();
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
  async function page(cookie) {
    const res = await gate.fetch("/app/page", { headers: withCookie(cookie) });
    await res.arrayBuffer();
    return res.status;
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

  it("with the directory off, the endpoints do not exist", async () => {
    const a = await login(off, "frank");
    for (const [method, p] of [["GET", "/.session-gate/sessions"], ["POST", "/.session-gate/sessions/revoke"]]) {
      const res = await off.fetch(p, { method, headers: withCookie(a), ...(method === "POST" ? { body: "id=others" } : {}) });
      await res.arrayBuffer();
      assert.equal(res.status, 404, `${method} ${p}`);
    }
  });
});
