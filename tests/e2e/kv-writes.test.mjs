// A revocation the gate cannot record is never reported as success (red-team
// pass, issue 9 item 5). The gate runs with `REVOCATIONS` bound to a KV whose
// writes fail (tests/e2e/kv-double.mjs; reads reach a real local namespace):
// every logout, origin-driven Logout, Rotate and Revoke-User must answer 503
// with the cookie cleared and an error log line, and the isolate must keep
// refusing the revoked sessions long after REVOCATION_CACHE (1 s here) even
// though KV never learnt of the revocation.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGate, startOrigin, keygen, setCookies } from "./harness.mjs";

const COOKIE = "__Host-session";
const SOURCE = "red-team pass, issue 9 item 5";
/** Longer than REVOCATION_CACHE (1 s) plus a margin: an isolate cache entry would be gone. */
const BEYOND_CACHE_MS = 2500;
/** The attempts the gate makes at each write (`WRITE_ATTEMPTS` in crates/core/src/revocation.rs). */
const WRITE_ATTEMPTS = "3";
const ORIGIN_BODY = "origin body that must not pass";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const decode = (cookie) => JSON.parse(Buffer.from(cookie.split(".")[2], "base64url").toString("utf8"));

function respond(req) {
  const url = new URL(req.url, "http://origin.invalid");
  const user = url.searchParams.get("user");
  const headers = { "content-type": "text/plain" };
  switch (url.pathname) {
    case "/app/logout":
      return { status: 200, headers: { ...headers, "X-Session-Logout": "1" }, body: ORIGIN_BODY };
    case "/app/rotate":
      return { status: 200, headers: { ...headers, "X-Session-Rotate": "1" }, body: ORIGIN_BODY };
    case "/app/revoke":
      return { status: 200, headers: { ...headers, "X-Session-Revoke-User": user }, body: ORIGIN_BODY };
    case "/app/change-password":
      return { status: 200, headers: { ...headers, "X-Session-Revoke-User": user, "X-Session-Login": user }, body: ORIGIN_BODY };
    default:
      return undefined;
  }
}

describe(`a KV whose writes fail [${SOURCE}]`, () => {
  let origin, gate;
  before(async () => {
    origin = await startOrigin(respond);
    gate = await startGate({
      name: "kv-writes",
      failingKv: true,
      vars: { ORIGIN_URL: origin.url, REVOCATION_CACHE: "1" },
      secrets: { SESSION_KEYS: await keygen("k1") },
    });
  });
  after(async () => {
    await gate?.stop();
    await origin?.close();
  });

  async function get(p, value, init = {}) {
    const headers = { ...(value ? { cookie: `${COOKIE}=${value}` } : {}), ...(init.headers || {}) };
    const res = await gate.fetch(p, { ...init, headers });
    const body = await res.text();
    return { res, body, status: res.status, cookie: setCookies(res)[COOKIE], cookies: res.headers.getSetCookie() };
  }
  /** A live session the gate has just seen, so "not revoked" sits in its read cache. */
  async function session(sub) {
    const cookie = await gate.mint({ sub });
    assert.equal((await get("/app/x", cookie)).status, 200, `${sub}'s fresh session is let through`);
    return cookie;
  }
  /** The 503 of a revocation that could not be recorded. */
  function assertUnrecorded(r) {
    assert.equal(r.status, 503, `status (body: ${r.body.slice(0, 200)})`);
    assert.equal(r.res.headers.get("cache-control"), "no-store");
    assert.match(r.res.headers.get("retry-after") ?? "", /^[0-9]+$/);
    assert.match(r.res.headers.get("content-type") ?? "", /^text\/plain/);
    assert.equal(r.body, "Service Unavailable\n", "a plain generic body; the origin's never passes");
    assert.equal(r.cookies.length, 1, `only the clearing cookie: ${r.cookies}`);
    assert.equal(r.cookie.value, "", "the cookie is still cleared");
    assert.ok(r.cookie.attrs.includes("Max-Age=0"));
  }
  /** The request's log line: an error, never a success. */
  async function assertErrorLog(sub, pathPrefix) {
    const line = await gate.waitForLog((l) => {
      const r = JSON.parse(l);
      return r.sub === sub && r.path?.startsWith(pathPrefix) && r.status !== 200;
    });
    assert.ok(line, `a log line for ${sub} on ${pathPrefix}`);
    const record = JSON.parse(line);
    assert.equal(record.event, "kv_write_failed", line);
    assert.equal(record.status, 503, line);
    return record;
  }
  async function assertRefused(cookie, what) {
    const r = await get("/app/x", cookie);
    assert.equal(r.status, 401, `${what} is refused`);
    assert.equal(JSON.parse(r.body).reason, "revoked", what);
  }

  it("POST /.session-gate/logout answers 503, clears the cookie, logs an error, and the session stays revoked here", async () => {
    const cookie = await session("kvw-alice");
    const out = await get("/.session-gate/logout", cookie, { method: "POST" });
    assertUnrecorded(out);
    await assertErrorLog("kvw-alice", "/.session-gate/logout");
    const sid = decode(cookie).sid;
    assert.equal(await gate.kvGet(`kv-double:attempts:sid:${sid}`), WRITE_ATTEMPTS, "the write was retried");
    assert.equal(await gate.kvGet(`sid:${sid}`), null, "KV never got the revocation");
    await sleep(BEYOND_CACHE_MS);
    await assertRefused(cookie, "the logged-out session, beyond REVOCATION_CACHE");
  });

  it("origin-driven Logout and Rotate answer 503 without the origin's body or a new cookie; the sessions stay revoked", async () => {
    const out = await session("kvw-bob");
    const rot = await session("kvw-carol");
    const before = origin.requests.length;
    const logout = await get("/app/logout", out);
    assertUnrecorded(logout);
    const rotate = await get("/app/rotate", rot);
    assertUnrecorded(rotate);
    assert.equal(origin.requests.length - before, 2, "the origin did see both requests");
    assert.equal((await assertErrorLog("kvw-bob", "/app/logout")).action, "logout");
    assert.equal((await assertErrorLog("kvw-carol", "/app/rotate")).action, "rotate");
    await sleep(BEYOND_CACHE_MS);
    await assertRefused(out, "the session the origin logged out");
    await assertRefused(rot, "the session the origin rotated");
  });

  it("Revoke-User (alone, and with Login) answers 503 and the user's other sessions stay revoked here", async () => {
    const victim = await session("kvw-dave");
    const admin = await session("kvw-admin");
    const revoke = await get("/app/revoke?user=kvw-dave", admin);
    assertUnrecorded(revoke);
    assert.equal((await assertErrorLog("kvw-admin", "/app/revoke")).action, "revoke_user");

    const erinA = await session("kvw-erin");
    const erinB = await session("kvw-erin");
    const change = await get("/app/change-password?user=kvw-erin", erinA);
    assertUnrecorded(change);
    assert.equal((await assertErrorLog("kvw-erin", "/app/change-password")).action, "revoke_user+login");

    await sleep(BEYOND_CACHE_MS);
    await assertRefused(victim, "the revoked user's other session");
    await assertRefused(erinB, "the other session of the user whose password changed");
    await assertRefused(erinA, "the session that asked for the change");
    // The admin's session was never revoked; only its cookie was cleared.
    assert.equal((await get("/app/x", admin)).status, 200);
  });

  it("a write that fails once and succeeds on the retry is a success", async () => {
    await gate.doubleMode("fail-first");
    const cookie = await session("kvw-frank");
    const out = await get("/.session-gate/logout", cookie, { method: "POST" });
    assert.equal(out.status, 303);
    assert.equal(out.cookie.value, "");
    const line = await gate.waitForLog((l) => JSON.parse(l).sub === "kvw-frank" && l.includes("/.session-gate/logout"));
    assert.equal(JSON.parse(line).event, "gate", line);
    assert.equal(JSON.parse(line).status, 303, line);
    const sid = decode(cookie).sid;
    assert.equal(await gate.kvGet(`kv-double:attempts:sid:${sid}`), "2");
    assert.ok(await gate.kvGet(`sid:${sid}`), "the revocation reached KV");
    await assertRefused(cookie, "the logged-out session");
  });
});
