// The session lifecycle end to end (SPEC sections 4, 5.1 and 6): the origin
// starts, rotates and ends sessions with response headers; the gate's own
// endpoints; key rotation; the assertion to the origin; roles.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import { startGate, startOrigin, keygen, setCookies, ROOT } from "./harness.mjs";
import { verifyAssertion } from "../../docs/examples/verify_assertion.mjs";
import { signHandshake, encodeSub } from "../../docs/examples/sign_handshake.mjs";

const run = promisify(execFile);
const COOKIE = "__Host-session";
const SECRET = "origin-secret-for-the-e2e-suite-0123456789";
const HANDSHAKE = ["x-session-login", "x-session-roles", "x-session-logout", "x-session-rotate", "x-session-revoke-user"];

const decode = (cookie) => JSON.parse(Buffer.from(cookie.split(".")[2], "base64url").toString("utf8"));

/**
 * Signs the handshake in `headers` as `how` says: with the Node helper
 * (default), the Python one (`py`), not at all (`none`), with another secret
 * (`wrong`), over other lines (`other-lines`), or for another request's
 * nonce (`replay`).
 */
function sign(headers, nonce, how) {
  if (!nonce || how === "none") return headers;
  const lines = Object.entries(headers).filter(([n]) => HANDSHAKE.includes(n.toLowerCase()));
  if (lines.length === 0) return headers;
  let tag;
  if (how === "py") {
    const args = [path.join(ROOT, "docs/examples/sign_handshake.py"), nonce, ...lines.map(([n, v]) => `${n}:${v}`)];
    tag = execFileSync("python3", args, { env: { ...process.env, ORIGIN_SECRET: SECRET } }).toString().trim();
  } else if (how === "wrong") {
    tag = signHandshake(lines, { secret: "another-secret-another-secret-another-secret", nonce });
  } else if (how === "other-lines") {
    tag = signHandshake([["X-Session-Login", "alice"]], { secret: SECRET, nonce });
  } else if (how === "replay") {
    tag = signHandshake(lines, { secret: SECRET, nonce: "AAAAAAAAAAAAAAAAAAAAAA" });
  } else {
    tag = signHandshake(lines, { secret: SECRET, nonce });
  }
  return { ...headers, "X-Session-Handshake": tag };
}

/** The test origin: the path says which handshake to answer with; `?sig=` how to sign it. */
function respond(req) {
  const answer = handshakeFor(req);
  if (answer?.headers) answer.headers = sign(answer.headers, req.headers["x-session-nonce"], new URL(req.url, "http://origin.invalid").searchParams.get("sig"));
  return answer;
}

function handshakeFor(req) {
  const url = new URL(req.url, "http://origin.invalid");
  const q = url.searchParams;
  const headers = { "content-type": "text/plain" };
  switch (url.pathname) {
    case "/login":
      if (req.method !== "POST") return { status: 200, body: "login form" };
      headers["X-Session-Login"] = encodeSub(q.get("user"));
      if (q.get("roles")) headers["X-Session-Roles"] = q.get("roles");
      headers["Set-Cookie"] = ["theme=dark; Path=/", `${COOKIE}=origin-forged; Path=/`];
      return { status: 303, headers: { ...headers, Location: "/app?sid=leak" } };
    case "/app/logout":
      return { status: 200, headers: { ...headers, "X-Session-Logout": "1" }, body: "bye" };
    case "/app/rotate":
      if (q.get("roles")) headers["X-Session-Roles"] = q.get("roles");
      return { status: 200, headers: { ...headers, "X-Session-Rotate": "1" }, body: "rotated" };
    case "/app/change-password":
      return { status: 200, headers: { ...headers, "X-Session-Revoke-User": q.get("user"), "X-Session-Login": q.get("user") }, body: "changed" };
    case "/app/revoke":
      return { status: 200, headers: { ...headers, "X-Session-Revoke-User": q.get("user") }, body: "revoked" };
    case "/app/bad-handshake":
      return { status: 200, headers: { ...headers, "X-Session-Login": "a\u0001b".replace("\u0001", "%01") }, body: "bad" };
    default:
      return undefined;
  }
}

describe("the origin handshake", () => {
  let origin, gate;
  before(async () => {
    origin = await startOrigin(respond);
    gate = await startGate({
      name: "lifecycle",
      vars: { ORIGIN_URL: origin.url },
      secrets: { SESSION_KEYS: await keygen("k1"), ORIGIN_SECRET: SECRET },
    });
  });
  after(async () => {
    await gate?.stop();
    await origin?.close();
  });

  const cookieHeader = (value) => ({ cookie: `${COOKIE}=${value}` });
  async function get(p, value, init = {}) {
    const res = await gate.fetch(p, { ...init, headers: { ...(value ? cookieHeader(value) : {}), ...(init.headers || {}) } });
    const body = await res.text();
    return { res, body, status: res.status, cookie: setCookies(res)[COOKIE] };
  }
  async function login(user, { roles, presented } = {}) {
    const q = new URLSearchParams({ user, ...(roles ? { roles } : {}) });
    const r = await get(`/login?${q}`, presented, { method: "POST" });
    assert.equal(r.status, 303);
    assert.ok(r.cookie && r.cookie.value.startsWith("v1.k1."), "login sets a session cookie");
    return r;
  }
  const assertHandshakeHidden = (res) => {
    for (const h of HANDSHAKE) assert.equal(res.headers.get(h), null, `${h} never reaches the client`);
  };

  it("X-Session-Login starts a session; the headers never reach the client", async () => {
    const r = await login("alice");
    assertHandshakeHidden(r.res);
    for (const attr of ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"]) assert.ok(r.cookie.attrs.includes(attr));
    assert.ok(r.cookie.attrs.includes("Max-Age=43200"));
    const claims = decode(r.cookie.value);
    assert.equal(claims.sub, "alice");
    assert.equal(claims.sid.length, 22);
    assert.equal(r.res.headers.get("location"), "/app", "Location is scrubbed of session ids");
    const cookies = r.res.headers.getSetCookie();
    assert.ok(cookies.some((c) => c.startsWith("theme=dark")), "other origin cookies pass");
    assert.ok(!cookies.some((c) => c.includes("origin-forged")), "an origin Set-Cookie naming COOKIE_NAME is dropped");
    assert.equal(cookies.filter((c) => c.startsWith(`${COOKIE}=`)).length, 1);
    const page = await get("/app/page", r.cookie.value);
    assert.equal(page.status, 200);
    assert.equal(origin.seen("/app/page")[0].headers["x-session-user"], "alice");
  });

  it("login always issues a fresh sid, and a presented session is revoked (no fixation)", async () => {
    const first = await login("bob");
    const second = await login("bob", { presented: first.cookie.value });
    assert.notEqual(decode(second.cookie.value).sid, decode(first.cookie.value).sid);
    const old = await get("/app/x", first.cookie.value);
    assert.equal(old.status, 401);
    assert.equal(JSON.parse(old.body).reason, "revoked");
    assert.equal((await get("/app/x", second.cookie.value)).status, 200);
  });

  it("X-Session-Logout revokes the session and clears the cookie", async () => {
    const { cookie } = await login("carol");
    const out = await get("/app/logout", cookie.value);
    assert.equal(out.status, 200);
    assertHandshakeHidden(out.res);
    assert.equal(out.cookie.value, "");
    assert.ok(out.cookie.attrs.includes("Max-Age=0"));
    const after = await get("/app/x", cookie.value);
    assert.equal(after.status, 401);
    assert.equal(JSON.parse(after.body).reason, "revoked");
  });

  it("X-Session-Rotate gives a new sid for the same user and issue time; the old one dies", async () => {
    const { cookie } = await login("dave", { roles: "viewer" });
    const rotated = await get("/app/rotate", cookie.value);
    assertHandshakeHidden(rotated.res);
    const before = decode(cookie.value);
    const afterClaims = decode(rotated.cookie.value);
    assert.notEqual(afterClaims.sid, before.sid);
    assert.equal(afterClaims.sub, "dave");
    assert.equal(afterClaims.iat, before.iat, "rotation never extends the absolute lifetime");
    assert.deepEqual(afterClaims.roles, ["viewer"], "roles are kept without X-Session-Roles");
    assert.equal((await get("/app/x", cookie.value)).status, 401);
    assert.equal((await get("/app/x", rotated.cookie.value)).status, 200);
    // Rotation is the only way roles change.
    const promoted = await get("/app/rotate?roles=admin,viewer", rotated.cookie.value);
    assert.deepEqual(decode(promoted.cookie.value).roles, ["admin", "viewer"]);
    await get("/app/roles-check", promoted.cookie.value);
    assert.equal(origin.seen("/app/roles-check")[0].headers["x-session-roles"], "admin,viewer");
  });

  it("X-Session-Revoke-User with X-Session-Login leaves only the new session alive", async () => {
    const a = await login("erin");
    const b = await login("erin");
    const changed = await get("/app/change-password?user=erin", a.cookie.value);
    assert.equal(changed.status, 200);
    assertHandshakeHidden(changed.res);
    const c = changed.cookie.value;
    assert.equal(decode(c).sub, "erin");
    assert.equal((await get("/app/x", a.cookie.value)).status, 401, "this browser's old session is dead");
    assert.equal(JSON.parse((await get("/app/x", b.cookie.value)).body).reason, "revoked", "the other session is dead");
    assert.equal((await get("/app/x", c)).status, 200, "the new session lives");
  });

  it("X-Session-Revoke-User alone ends every session of that user", async () => {
    const victim = await login("frank");
    const admin = await login("grace");
    const r = await get("/app/revoke?user=frank", admin.cookie.value);
    assert.equal(r.status, 200);
    assert.equal(r.cookie, undefined, "the admin's own session is untouched");
    assert.equal((await get("/app/x", victim.cookie.value)).status, 401);
    assert.equal((await get("/app/x", admin.cookie.value)).status, 200);
  });

  it("a malformed Login over a live session is never half-applied: the session ends, the log says why", async () => {
    const { cookie } = await login("heidi");
    const r = await get("/app/bad-handshake", cookie.value);
    assert.equal(r.status, 200);
    assert.equal(r.cookie.value, "", "the presented session's cookie is cleared");
    assertHandshakeHidden(r.res);
    const line = await gate.waitForLog((l) => l.includes('"event":"handshake_error"') && l.includes("malformed: x-session-login"));
    assert.ok(line, "a handshake_error log line");
    assert.match(JSON.parse(line).action, /revoked the presented session/);
    assert.equal(JSON.parse((await get("/app/x", cookie.value)).body).reason, "revoked");
  });

  it("every forwarded request carries a fresh X-Session-Nonce", async () => {
    // The login page is public: anonymous requests are forwarded too.
    await get("/login?probe=1");
    await get("/login?probe=2");
    const [a] = origin.seen("/login?probe=1");
    const [b] = origin.seen("/login?probe=2");
    for (const r of [a, b]) assert.match(r.headers["x-session-nonce"], /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a.headers["x-session-nonce"], b.headers["x-session-nonce"]);
    await get("/login?probe=3", undefined, { headers: { "X-Session-Nonce": "client-chosen-client-ch" } });
    assert.notEqual(origin.seen("/login?probe=3")[0].headers["x-session-nonce"], "client-chosen-client-ch");
  });

  it("a handshake signed with the Python helper is honoured", async () => {
    const r = await get(`/login?user=peggy&sig=py`, undefined, { method: "POST" });
    assert.equal(r.status, 303);
    assert.equal(decode(r.cookie.value).sub, "peggy");
    assertHandshakeHidden(r.res);
    assert.equal(r.res.headers.get("x-session-handshake"), null);
  });

  it("an unsigned, wrongly signed, re-targeted or replayed handshake starts no session", async () => {
    for (const how of ["none", "wrong", "other-lines", "replay"]) {
      const r = await get(`/login?user=admin&roles=admin&sig=${how}`, undefined, { method: "POST" });
      assert.equal(r.status, 303, how);
      assert.equal(r.cookie, undefined, `${how}: no session`);
      assertHandshakeHidden(r.res);
      const reason = how === "none" ? "unauthenticated: x-session-handshake is missing" : "unauthenticated: x-session-handshake does not verify";
      assert.ok(await gate.waitForLog((l) => l.includes('"event":"handshake_error"') && l.includes(reason)), how);
    }
    // Unsigned over a live session: the session ends rather than switching.
    const { cookie } = await login("rupert");
    const r = await get("/app/logout?sig=none", cookie.value);
    assert.equal(r.cookie.value, "");
    assert.equal(JSON.parse((await get("/app/x", cookie.value)).body).reason, "revoked");
  });

  it("roles set at login reach the origin and cannot be spoofed by the client", async () => {
    const plain = await login("ivan");
    await get("/app/spoof", plain.cookie.value, { headers: { "X-Session-Roles": "admin", "x_session_roles": "admin" } });
    const [seen] = origin.seen("/app/spoof");
    assert.equal(seen.headers["x-session-roles"], undefined);
    assert.ok(!seen.rawHeaders.some((h) => h.toLowerCase() === "x_session_roles"));
    const admin = await login("judy", { roles: "support,admin" });
    await get("/app/with-roles", admin.cookie.value, { headers: { "X-Session-Roles": "root" } });
    assert.equal(origin.seen("/app/with-roles")[0].headers["x-session-roles"], "admin,support");
  });

  it("GET /.session-gate/me, /health and POST /.session-gate/logout", async () => {
    const health = await get("/.session-gate/health");
    assert.equal(health.status, 200);
    // Issue 9 item 11: anonymous callers learn only that the gate is up.
    assert.deepEqual(JSON.parse(health.body), { status: "ok" });
    const signedIn = await get("/.session-gate/health", (await login("heidi")).cookie.value);
    const detail = JSON.parse(signedIn.body);
    assert.equal(detail.status, "ok");
    assert.equal(detail.version, "0.1.0");
    assert.equal(detail.keys, 1);
    assert.equal(detail.handshake, "authenticated", "ORIGIN_SECRET is set: handshakes must be signed");
    assert.ok(!signedIn.body.includes("k1:"));
    const anon = await get("/.session-gate/me");
    assert.equal(anon.status, 401);
    const { cookie } = await login("mallory", { roles: "viewer" });
    const me = await get("/.session-gate/me", cookie.value);
    assert.equal(me.status, 200);
    const info = JSON.parse(me.body);
    const claims = decode(cookie.value);
    assert.equal(info.sub, "mallory");
    assert.match(info.fingerprint, /^[0-9a-f]{32}$/);
    assert.ok(!me.body.includes(claims.sid), "the sid itself never leaves the cookie");
    assert.equal(info.issued_at, claims.iat);
    assert.equal(info.absolute_expires_at, claims.iat + 43200_000);
    assert.equal(info.idle_expires_at, claims.seen + 1800_000);
    assert.deepEqual(info.roles, ["viewer"]);
    assert.equal(origin.seen("/.session-gate").length, 0, "the gate's endpoints never reach the origin");
    const out = await get("/.session-gate/logout", cookie.value, { method: "POST" });
    assert.equal(out.status, 303);
    assert.equal(out.res.headers.get("location"), "/");
    assert.equal(out.cookie.value, "");
    assert.equal((await get("/.session-gate/me", cookie.value)).status, 401);
    const crossSite = await login("niaj");
    const refused = await get("/.session-gate/logout", crossSite.cookie.value, { method: "POST", headers: { origin: "https://evil.example" } });
    assert.equal(refused.status, 403, "logout is CSRF-checked like any state change");
  });

  it("the assertion verifies (CLI, Node, Python) and fails when tampered, expired or replayed", async () => {
    const py = (text, expect) => run("python3", [path.join(ROOT, "docs/examples/verify_assertion.py"), text, expect.host, expect.method, expect.path, expect.query ?? ""], { cwd: os.tmpdir(), env: { ...process.env, ORIGIN_SECRET: SECRET } });
    const { cookie } = await login("oscar", { roles: "viewer" });
    await get("/app/asserted?q=1", cookie.value);
    const [seen] = origin.seen("/app/asserted");
    const assertion = seen.headers["x-session-assertion"];
    assert.ok(assertion.startsWith("v1."));
    const host = new URL(gate.url).host;
    const claims = verifyAssertion(assertion, { secret: SECRET, host, method: "GET", path: "/app/asserted", query: "q=1" });
    assert.equal(claims.sub, "oscar");
    assert.equal(claims.sid, seen.headers["x-session-id"]);
    assert.deepEqual(claims.roles, ["viewer"]);
    assert.ok(claims.exp > Date.now() && claims.exp <= Date.now() + 61_000);
    assert.equal(JSON.parse((await py(assertion, { host, method: "GET", path: "/app/asserted", query: "q=1" })).stdout).sub, "oscar");
    const cli = await run(path.join(ROOT, "target/debug/session-gate"), ["verify-assertion", assertion, "--host", host, "--method", "GET", "--path", "/app/asserted", "--query", "q=1"], { cwd: os.tmpdir(), env: { ...process.env, ORIGIN_SECRET: SECRET } });
    assert.equal(JSON.parse(cli.stdout).sub, "oscar");

    const [v, payload, tag] = assertion.split(".");
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: "admin" })).toString("base64url");
    const at = { host, method: "GET", path: "/app/asserted", query: "q=1" };
    const refusals = [
      [`${v}.${forged}.${tag}`, at, /tag/],
      [assertion, { ...at, now: claims.exp + 1 }, /expired/],
      [assertion, { ...at, method: "POST" }, /method/],
      [assertion, { ...at, path: "/admin" }, /path/],
      [assertion, { ...at, host: "evil.example" }, /host/],
      // Issue 9 item 10: the assertion binds the query, so it cannot be
      // replayed (or the request altered) with another one.
      [assertion, { ...at, query: "q=2" }, /query/],
      [assertion, { ...at, query: "" }, /query/],
      [assertion, { ...at, query: "q=1&admin=1" }, /query/],
      [`${v}.${payload}.${tag}`, { ...at, secret: "wrong-secret-wrong-secret-wrong-secret" }, /tag/],
    ];
    for (const [text, expect, message] of refusals) {
      assert.throws(() => verifyAssertion(text, { secret: SECRET, ...expect }), message);
      if (expect.now === undefined && expect.secret === undefined) {
        await assert.rejects(py(text, expect), (e) => message.test(e.stderr));
        await assert.rejects(
          run(path.join(ROOT, "target/debug/session-gate"), ["verify-assertion", text, "--host", expect.host, "--method", expect.method, "--path", expect.path, "--query", expect.query], { cwd: os.tmpdir(), env: { ...process.env, ORIGIN_SECRET: SECRET } }),
          (e) => message.test(e.stderr),
        );
      }
    }
    // A public path without a session is asserted too, anonymously.
    await get("/login");
    const anon = origin.seen("/login").filter((r) => r.method === "GET" && r.url === "/login").at(-1);
    const anonClaims = verifyAssertion(anon.headers["x-session-assertion"], { secret: SECRET, host, method: "GET", path: "/login", query: "" });
    assert.equal(anonClaims.sub, null);
  });
});

describe("docs/origin.md", () => {
  it("shows the verifiers and signers exactly as the suite runs them", async () => {
    const fs = await import("node:fs");
    const doc = fs.readFileSync(path.join(ROOT, "docs/origin.md"), "utf8");
    for (const file of ["verify_assertion.mjs", "verify_assertion.py", "sign_handshake.mjs", "sign_handshake.py"]) {
      const code = fs.readFileSync(path.join(ROOT, "docs/examples", file), "utf8").trimEnd();
      assert.ok(doc.includes(code), `docs/origin.md holds docs/examples/${file} verbatim`);
    }
  });
});

describe("key rotation", () => {
  let origin, oldKey, newKey;
  const gates = [];
  before(async () => {
    origin = await startOrigin();
    oldKey = await keygen("old");
    newKey = await keygen("new");
  });
  after(async () => {
    await Promise.all(gates.map((g) => g.stop()));
    await origin?.close();
  });
  const mintWith = async (keys, sub) =>
    (await run(path.join(ROOT, "target/debug/session-gate"), ["mint", "--sub", sub], { cwd: os.tmpdir(), env: { ...process.env, SESSION_KEYS: keys } })).stdout.trim();

  it("the first key signs, every key verifies, and a refresh re-signs with the signing key (both directions)", async () => {
    const [promoted, added] = await Promise.all([
      startGate({ name: "rot-promoted", vars: { ORIGIN_URL: origin.url }, secrets: { SESSION_KEYS: `${newKey},${oldKey}` } }),
      startGate({ name: "rot-added", vars: { ORIGIN_URL: origin.url }, secrets: { SESSION_KEYS: `${oldKey},${newKey}` } }),
    ]);
    gates.push(promoted, added);
    const oldCookie = await mintWith(oldKey, "alice");
    const newCookie = await mintWith(newKey, "alice");
    // New key promoted: an old-key cookie is accepted and re-signed with the new key.
    const r1 = await promoted.fetch("/x", { headers: { cookie: `${COOKIE}=${oldCookie}` } });
    assert.equal(r1.status, 200);
    await r1.arrayBuffer();
    const resigned = setCookies(r1)[COOKIE];
    assert.ok(resigned.value.startsWith("v1.new."));
    assert.equal(decode(resigned.value).sid, decode(oldCookie).sid, "same session, new signature");
    // New key added second (not yet promoted): its cookies verify, and are re-signed with the old signer.
    const r2 = await added.fetch("/x", { headers: { cookie: `${COOKIE}=${newCookie}` } });
    assert.equal(r2.status, 200);
    await r2.arrayBuffer();
    assert.ok(setCookies(r2)[COOKIE].value.startsWith("v1.old."));
  });

  it("without ORIGIN_SECRET, or with HANDSHAKE_AUTH=off, plain handshakes start sessions", async () => {
    const plainOrigin = await startOrigin((req) => req.url.startsWith("/login") && req.method === "POST"
      ? { status: 303, headers: { Location: "/", "X-Session-Login": "sybil" } }
      : undefined);
    try {
      const [noSecret, off] = await Promise.all([
        startGate({ name: "plain-nosecret", vars: { ORIGIN_URL: plainOrigin.url }, secrets: { SESSION_KEYS: newKey } }),
        startGate({ name: "plain-off", vars: { ORIGIN_URL: plainOrigin.url, HANDSHAKE_AUTH: "off" }, secrets: { SESSION_KEYS: newKey, ORIGIN_SECRET: SECRET } }),
      ]);
      gates.push(noSecret, off);
      for (const g of [noSecret, off]) {
        const res = await g.fetch("/login", { method: "POST" });
        await res.arrayBuffer();
        assert.equal(res.status, 303);
        assert.equal(decode(setCookies(res)[COOKIE].value).sub, "sybil");
      }
    } finally {
      await plainOrigin.close();
    }
  });

  it("a key taken out of SESSION_KEYS kills its cookies", async () => {
    const retired = await startGate({ name: "rot-retired", vars: { ORIGIN_URL: origin.url }, secrets: { SESSION_KEYS: newKey } });
    gates.push(retired);
    const oldCookie = await mintWith(oldKey, "alice");
    const res = await retired.fetch("/x", { headers: { cookie: `${COOKIE}=${oldCookie}` } });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).reason, "invalid");
    const ok = await retired.fetch("/x", { headers: { cookie: `${COOKIE}=${await mintWith(newKey, "alice")}` } });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
  });
});
