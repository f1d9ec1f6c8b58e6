// The gate end to end (SPEC sections 2, 3 and 5): valid, missing, tampered,
// expired and revoked cookies against the real worker under wrangler dev.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import crypto from "node:crypto";
import { startGate, startOrigin, keygen, setCookies } from "./harness.mjs";

const COOKIE = "__Host-session";
const HOUR = 3600_000;

function decodePayload(cookie) {
  return JSON.parse(Buffer.from(cookie.split(".")[2], "base64url").toString("utf8"));
}

/** The session's fingerprint: first 32 hex digits of SHA-256 of the sid. */
const fingerprint = (cookie) => crypto.createHash("sha256").update(decodePayload(cookie).sid).digest("hex").slice(0, 32);

describe("session cookies at the gate", () => {
  let origin, gate, otherKey;

  before(async () => {
    origin = await startOrigin();
    const key = await keygen("main");
    otherKey = await keygen("other");
    gate = await startGate({
      name: "session",
      vars: { ORIGIN_URL: origin.url, REVOCATION_CACHE: "0", PUBLIC_PATHS: "/public/*" },
      secrets: { SESSION_KEYS: key },
    });
  });

  after(async () => {
    await gate?.stop();
    await origin?.close();
  });

  const mint = (opts) => gate.mint(opts);

  /** Asserts the request was refused with `reason` and the origin saw nothing. */
  async function assertRefused(cookieHeader, reason, { page = false } = {}) {
    const path = `/private/${Math.random().toString(36).slice(2)}`;
    const headers = { cookie: cookieHeader };
    if (page) headers.accept = "text/html,application/xhtml+xml";
    const res = await gate.fetch(`${path}?q=1`, { headers });
    if (page) {
      assert.equal(res.status, 302);
      assert.equal(res.headers.get("location"), `/login?next=${encodeURIComponent(`${path}?q=1`)}`);
      await res.arrayBuffer();
    } else {
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.deepEqual(await res.json(), { error: "unauthenticated", reason });
    }
    assert.equal(res.headers.get("cache-control"), "no-store");
    const cleared = setCookies(res)[COOKIE];
    if (reason === "missing") {
      assert.equal(cleared, undefined, "nothing to clear");
    } else {
      assert.ok(cleared, "a presented bad cookie is cleared");
      assert.equal(cleared.value, "");
      assert.ok(cleared.attrs.includes("Max-Age=0"));
    }
    assert.equal(origin.seen(path).length, 0, "the origin saw nothing");
    return path;
  }

  /**
   * The log line of the refusal at `path` (lines trail responses): the
   * session it names, `[fingerprint, sub]`, both undefined when it names none.
   */
  async function namedIn(path) {
    const line = await gate.waitForLog((l) => JSON.parse(l).path === path);
    assert.ok(line, `a log line for ${path}`);
    const record = JSON.parse(line);
    assert.ok(["deny", "login_redirect"].includes(record.event), line);
    return [record.fingerprint, record.sub];
  }

  it("forwards a valid session with identity headers and without the session cookie", async () => {
    const cookie = await mint({ sub: "alice" });
    const { sid, iat } = decodePayload(cookie);
    const res = await gate.fetch("/private/valid?x=1", {
      headers: {
        cookie: `theme=dark; ${COOKIE}=${cookie}; lang=en`,
        "x-session-user": "mallory",
        "x_session_user": "mallory",
        "x-forwarded-user": "mallory",
        "remote-user": "mallory",
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { origin: true, method: "GET", url: "/private/valid?x=1", bytes: 0 });
    const [seen] = origin.seen("/private/valid");
    assert.equal(seen.headers["x-session-user"], "alice");
    assert.match(seen.headers["x-session-id"], /^[0-9a-f]{32}$/);
    assert.notEqual(seen.headers["x-session-id"], sid);
    assert.equal(seen.headers["x-session-issued-at"], String(iat));
    assert.equal(seen.headers.cookie, "theme=dark; lang=en");
    assert.equal(seen.headers["x-forwarded-user"], undefined);
    assert.equal(seen.headers["remote-user"], undefined);
    const raw = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    assert.equal(raw.filter((h) => h === "x-session-user").length, 1, "exactly one identity header");
    assert.ok(!raw.includes("x_session_user"));
    assert.ok(!JSON.stringify(seen.headers).includes(cookie), "the cookie never reaches the origin");
    assert.equal(setCookies(res)[COOKIE], undefined, "no refresh for a fresh cookie");
    assert.equal(res.headers.get("referrer-policy"), "strict-origin-when-cross-origin");
  });

  it("missing cookie: 401 for API calls, 302 to login for page loads", async () => {
    assert.deepEqual(await namedIn(await assertRefused("theme=dark", "missing")), [undefined, undefined]);
    await assertRefused("theme=dark", "missing", { page: true });
    const nav = await gate.raw("/private/nav", { headers: { "sec-fetch-mode": "navigate", accept: "*/*" } });
    assert.equal(nav.status, 302);
    assert.equal(nav.headers.location, "/login?next=%2Fprivate%2Fnav");
    const post = await gate.raw("/private/nav", { method: "POST", headers: { "sec-fetch-mode": "navigate", accept: "text/html" } });
    assert.equal(post.status, 401, "only GET and HEAD page loads are redirected");
    assert.equal(origin.seen("/private/nav").length, 0);
  });

  it("tampering with any of the four parts is invalid", async () => {
    const cookie = await mint({ sub: "alice" });
    const [version, kid, payload, tag] = cookie.split(".");
    const flip = (s, i) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
    const forged = Buffer.from(JSON.stringify({ ...decodePayload(cookie), sub: "admin" })).toString("base64url");
    const cases = [
      ["v2", kid, payload, tag],
      ["v1", "mainx", payload, tag],
      ["v1", kid, flip(payload, 5), tag],
      ["v1", kid, forged, tag],
      ["v1", kid, payload, flip(tag, 10)],
      ["v1", kid, payload, tag.slice(0, 42)],
    ];
    assert.equal(version, "v1");
    for (const parts of cases) {
      await assertRefused(`${COOKIE}=${parts.join(".")}`, "invalid");
    }
  });

  it("a cookie signed with a key outside the ring is invalid", async () => {
    const { stdout } = await gate.cli(["mint", "--sub", "alice"], {});
    assert.ok(stdout.startsWith("v1.main."));
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const { ROOT } = await import("./harness.mjs");
    const foreign = (await promisify(execFile)(`${ROOT}/target/debug/session-gate`, ["mint", "--sub", "alice"], {
      cwd: os.tmpdir(),
      env: { ...process.env, SESSION_KEYS: otherKey },
    })).stdout.trim();
    assert.ok(foreign.startsWith("v1.other."));
    // Its claims are not authentic (any sub can be written into it), so
    // the log line names nobody.
    const foreignPath = await assertRefused(`${COOKIE}=${foreign}`, "invalid");
    assert.deepEqual(await namedIn(foreignPath), [undefined, undefined]);
    // The client sees `invalid`; the log names the cause, so an operator can
    // tell a key missing from the ring (a rotation mistake) from tampering.
    const line = await gate.waitForLog((l) => JSON.parse(l).reason === "unknown_kid");
    assert.ok(line, "the log line names unknown_kid");
    const own = await gate.mint({ sub: "alice" });
    const cut = own.lastIndexOf(".") + 1; // the tag's first character: still canonical base64url
    const flipped = own.slice(0, cut) + (own[cut] === "A" ? "B" : "A") + own.slice(cut + 1);
    assert.deepEqual(await namedIn(await assertRefused(`${COOKIE}=${flipped}`, "invalid")), [undefined, undefined]);
    assert.ok(await gate.waitForLog((l) => JSON.parse(l).reason === "bad_tag"), "the log line names bad_tag");
  });

  it("idle-expired, absolute-expired and future-dated cookies", async () => {
    const now = Date.now();
    const idle = await mint({ sub: "ivy", iat: now - HOUR, seen: now - 1801_000 });
    // Authentic but expired: the line names the session.
    assert.deepEqual(await namedIn(await assertRefused(`${COOKIE}=${idle}`, "expired")), [fingerprint(idle), "ivy"]);
    const absolute = await mint({ iat: now - 12 * HOUR - 1000, seen: now });
    await assertRefused(`${COOKIE}=${absolute}`, "expired", { page: true });
    const future = await mint({ iat: now + 5 * 60_000 });
    await assertRefused(`${COOKIE}=${future}`, "invalid");
  });

  it("two cookies of the gate's name are refused, even if both are valid", async () => {
    const a = await mint({ sub: "alice" });
    const b = await mint({ sub: "bob" });
    await assertRefused(`${COOKIE}=${a}; ${COOKIE}=${b}`, "invalid");
    await assertRefused(`${COOKIE}=${a}; ${COOKIE}=${a}`, "invalid");
  });

  it("a user: epoch written with wrangler kv key put --local revokes", async () => {
    const cookie = await mint({ sub: "carol", iat: Date.now() - 1000 });
    const ok = await gate.fetch("/private/carol", { headers: { cookie: `${COOKIE}=${cookie}` } });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    await gate.kvPut("user:carol", String(Date.now()));
    // The revoked session came back: its line names it, for the operator.
    const path = await assertRefused(`${COOKIE}=${cookie}`, "revoked");
    assert.deepEqual(await namedIn(path), [fingerprint(cookie), "carol"]);
    // A session issued after the epoch is fine.
    const fresh = await mint({ sub: "carol", iat: Date.now() + 5 });
    await new Promise((r) => setTimeout(r, 10));
    const res = await gate.fetch("/private/carol-again", { headers: { cookie: `${COOKIE}=${fresh}` } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  it("revoke-user through the CLI revokes", async () => {
    const cookie = await mint({ sub: "erin", iat: Date.now() - 1000 });
    await gate.cli(["revoke-user", "erin", "--local"], { passWrangler: true });
    await assertRefused(`${COOKIE}=${cookie}`, "revoked");
  });

  it("a sid: key revokes that one session only", async () => {
    const victim = await mint({ sub: "dave" });
    const other = await mint({ sub: "dave" });
    await gate.kvPut(`sid:${decodePayload(victim).sid}`, "1");
    const path = await assertRefused(`${COOKIE}=${victim}`, "revoked", { page: true });
    assert.deepEqual(await namedIn(path), [fingerprint(victim), "dave"]);
    const res = await gate.fetch("/private/dave-other", { headers: { cookie: `${COOKIE}=${other}` } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    // The CLI's revoke-session takes the whole cookie.
    await gate.cli(["revoke-session", other, "--local"], { passWrangler: true });
    await assertRefused(`${COOKIE}=${other}`, "revoked");
  });

  it("a refresh cookie appears once REFRESH_INTERVAL has passed", async () => {
    const now = Date.now();
    const stale = await mint({ sub: "alice", iat: now - 10 * 60_000, seen: now - 61_000 });
    const res = await gate.fetch("/private/refresh", { headers: { cookie: `${COOKIE}=${stale}` } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const refreshed = setCookies(res)[COOKIE];
    assert.ok(refreshed, "a refreshed cookie is set");
    for (const attr of ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"]) assert.ok(refreshed.attrs.includes(attr), attr);
    const maxAge = Number(refreshed.attrs.find((a) => a.startsWith("Max-Age=")).slice(8));
    assert.ok(maxAge <= 12 * 3600 - 600 && maxAge > 12 * 3600 - 700, `Max-Age ${maxAge} runs to the absolute expiry`);
    const before = decodePayload(stale);
    const after = decodePayload(refreshed.value);
    assert.equal(after.sid, before.sid);
    assert.equal(after.iat, before.iat);
    assert.ok(after.seen >= now, "seen moves to now");
    const again = await gate.fetch("/private/refresh2", { headers: { cookie: `${COOKIE}=${refreshed.value}` } });
    assert.equal(again.status, 200);
    await again.arrayBuffer();
    assert.equal(setCookies(again)[COOKIE], undefined, "not refreshed again within the interval");
    // 60 s exactly is not yet due.
    const edge = await mint({ sub: "alice", iat: now - 10 * 60_000, seen: Date.now() - 55_000 });
    const notDue = await gate.fetch("/private/refresh3", { headers: { cookie: `${COOKIE}=${edge}` } });
    await notDue.arrayBuffer();
    assert.equal(setCookies(notDue)[COOKIE], undefined);
  });

  it("public paths pass without a session, and an invalid cookie does not block them", async () => {
    const res = await gate.fetch("/public/page", { headers: { cookie: `${COOKIE}=garbage` } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const [seen] = origin.seen("/public/page");
    assert.equal(seen.headers["x-session-user"], undefined);
    const login = await gate.fetch("/login");
    assert.equal(login.status, 200);
    await login.arrayBuffer();
  });

  it("request bodies stream through to the origin intact", async () => {
    const cookie = await mint({ sub: "alice" });
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await gate.fetch("/private/upload", {
      method: "POST",
      headers: { cookie: `${COOKIE}=${cookie}`, "content-type": "application/octet-stream" },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).bytes, body.length);
    const [seen] = origin.seen("/private/upload");
    assert.ok(seen.body.equals(body));
  });
});

describe("gate misconfiguration and failures", () => {
  let origin, key;
  const gates = [];
  before(async () => {
    origin = await startOrigin();
    key = await keygen("main");
  });
  after(async () => {
    await Promise.all(gates.map((g) => g.stop()));
    await origin?.close();
  });

  it("a bad setting answers every request with a generic 500 and forwards nothing", async () => {
    const gate = await startGate({ name: "badconf", vars: { ORIGIN_URL: origin.url, IDLE_TIMEOUT: "soon" }, secrets: { SESSION_KEYS: key } });
    gates.push(gate);
    const cookie = await gate.mint({ sub: "alice" }).catch(() => null);
    const res = await gate.fetch("/anything", { headers: cookie ? { cookie: `${COOKIE}=${cookie}` } : {} });
    assert.equal(res.status, 500);
    assert.equal(await res.text(), "Internal Server Error\n");
    assert.equal(origin.seen("/anything").length, 0);
    assert.ok(await gate.waitForLog((l) => l.includes('"config_error"') && l.includes("IDLE_TIMEOUT")), "the log names the setting");
  });

  it("a missing SESSION_KEYS is a 500 too, and the log names it", async () => {
    const gate = await startGate({ name: "nokeys", vars: { ORIGIN_URL: origin.url } });
    gates.push(gate);
    const res = await gate.fetch("/x");
    assert.equal(res.status, 500);
    await res.arrayBuffer();
    assert.ok(await gate.waitForLog((l) => l.includes('"config_error"') && l.includes("SESSION_KEYS")));
  });

  it("KV_FAILURE=closed: a malformed epoch is a failed read and answers 503; open lets it through", async () => {
    const closed = await startGate({ name: "kvclosed", vars: { ORIGIN_URL: origin.url, REVOCATION_CACHE: "0" }, secrets: { SESSION_KEYS: key } });
    const open = await startGate({ name: "kvopen", vars: { ORIGIN_URL: origin.url, REVOCATION_CACHE: "0", KV_FAILURE: "open" }, secrets: { SESSION_KEYS: key } });
    gates.push(closed, open);
    for (const g of [closed, open]) await g.kvPut("user:frank", "not-a-number");
    const cookie = await closed.mint({ sub: "frank" });
    const res = await closed.fetch("/kv-closed", { headers: { cookie: `${COOKIE}=${cookie}` } });
    assert.equal(res.status, 503);
    await res.arrayBuffer();
    assert.equal(origin.seen("/kv-closed").length, 0);
    const res2 = await open.fetch("/kv-open", { headers: { cookie: `${COOKIE}=${cookie}` } });
    assert.equal(res2.status, 200);
    await res2.arrayBuffer();
    assert.equal(origin.seen("/kv-open").length, 1);
    assert.ok(await open.waitForLog((l) => l.includes("kv_failure_open")), "failing open is logged");
    assert.ok(await closed.waitForLog((l) => l.includes('"kv_failure"')), "the 503 is logged");
  });

  it("an unreachable origin gives 502 with a plain body", async () => {
    const { freePort } = await import("./harness.mjs");
    const dead = await freePort();
    const gate = await startGate({ name: "dead", vars: { ORIGIN_URL: `http://127.0.0.1:${dead}` }, secrets: { SESSION_KEYS: key } });
    gates.push(gate);
    const cookie = await gate.mint({ sub: "alice" });
    const res = await gate.fetch("/x", { headers: { cookie: `${COOKIE}=${cookie}` } });
    assert.equal(res.status, 502);
    assert.match(res.headers.get("content-type"), /^text\/plain/);
    assert.match(await res.text(), /Bad Gateway/);
    assert.ok(await gate.waitForLog((l) => l.includes('"origin_error"')));
  });
});
