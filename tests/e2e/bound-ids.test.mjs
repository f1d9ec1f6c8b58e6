// Bound ids (issue 13): with BOUND_IDS set under wrangler dev, a user's own
// bound id passes in every configured place, anything else in a bound place
// (another user's id, an unbound `1056`, a tampered or malformed id, two
// different ids) is refused with 403 before the origin, after every path
// spelling the normaliser folds; the origin learns the verified opaque part
// (X-Session-Context, the assertion's ctx). Streams pass through unbuffered,
// and a WebSocket upgrade to a bound path is checked like any request.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startGate, startOrigin, keygen, socketRequest, wsConnect, rememberSecret, ROOT } from "./harness.mjs";
import { bindId } from "../../docs/examples/bind_id.mjs";
import { verifyAssertion } from "../../docs/examples/verify_assertion.mjs";

const run = promisify(execFile);
const COOKIE = "__Host-session";
const SECRET = "origin-secret-for-bound-ids-0123456789abcdef";
const PLACES = "path:/api/threads/{thread},query:thread_id,header:x-thread-id,json:thread_id";
const CHUNKS = 10;
const GAP_MS = 100;

/** A bound id, its tag remembered as a secret the logs must never show. */
function bound(sub, opaque) {
  const id = bindId(SECRET, sub, opaque);
  rememberSecret(id.split(".")[1]);
  return id;
}

/** Every chunk's arrival time (performance.now) of a GET to `url`. */
function chunkTimes(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const arrivals = [];
      let text = "";
      res.on("data", (c) => {
        text += c.toString();
        arrivals.push({ at: performance.now(), text: c.toString() });
      });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, arrivals, text }));
    });
    req.on("error", reject);
  });
}

describe("bound ids under wrangler dev", () => {
  let gate, origin, alice, bob;
  const sent = []; // send times of the streaming origin's chunks, per stream
  before(async () => {
    origin = await startOrigin((req) => {
      const url = new URL(req.url, "http://origin.invalid");
      if (url.pathname.endsWith("/stream") || url.pathname.endsWith("/events")) {
        const sse = url.pathname.endsWith("/events");
        const times = [];
        sent.push(times);
        return {
          status: 200,
          headers: sse
            ? { "content-type": "text/event-stream", "cache-control": "no-cache" }
            : { "content-type": "text/plain" },
          stream(res) {
            let i = 0;
            const tick = () => {
              times.push(performance.now());
              res.write(sse ? `data: token ${i}\n\n` : `chunk ${i}\n`);
              if (++i === CHUNKS) res.end();
              else setTimeout(tick, GAP_MS);
            };
            tick();
          },
        };
      }
      return undefined;
    }, { upgrade: true });
    const key = await keygen("b1");
    gate = await startGate({
      name: "bound",
      vars: { ORIGIN_URL: origin.url, PUBLIC_PATHS: "/public/*", BOUND_IDS: PLACES },
      secrets: { SESSION_KEYS: key, ORIGIN_SECRET: SECRET },
    });
    alice = await gate.mint({ sub: "alice" });
    bob = await gate.mint({ sub: "bob" });
  });
  after(async () => {
    await gate?.stop();
    await origin?.close();
  });

  const as = (cookie, extra = {}) => ({ cookie: `${COOKIE}=${cookie}`, ...extra });

  it("the CLI, the Node and the Python helpers mint the same ids, which the gate accepts", async () => {
    const env = { ...process.env, ORIGIN_SECRET: SECRET };
    const cli = (await run(path.join(ROOT, "target/debug/session-gate"), ["bind-id", "--sub", "alice", "--id", "t1055"], { cwd: os.tmpdir(), env })).stdout.trim();
    const py = (await run("python3", [path.join(ROOT, "docs/examples/bind_id.py"), "alice", "t1055"], { cwd: os.tmpdir(), env })).stdout.trim();
    const node = (await run("node", [path.join(ROOT, "docs/examples/bind_id.mjs"), "alice", "t1055"], { cwd: os.tmpdir(), env })).stdout.trim();
    assert.equal(cli, bound("alice", "t1055"));
    assert.equal(py, cli);
    assert.equal(node, cli);
    const random = (await run(path.join(ROOT, "target/debug/session-gate"), ["bind-id", "--sub", "alice"], { cwd: os.tmpdir(), env })).stdout.trim();
    rememberSecret(random.split(".")[1]);
    assert.match(random, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
    for (const id of [cli, random]) {
      const res = await gate.fetch(`/api/threads/${id}`, { headers: as(alice) });
      assert.equal(res.status, 200, id);
      await res.arrayBuffer();
    }
    const other = await gate.fetch(`/api/threads/${cli}`, { headers: as(bob) });
    assert.equal(other.status, 403);
    await other.arrayBuffer();
  });

  it("a user's own id passes in every place; the origin learns its opaque part", async () => {
    const mine = bound("alice", "t1055");
    const body = JSON.stringify({ thread_id: mine, text: "héllo" });
    const cases = [
      { p: `/api/threads/${mine}/messages`, ctx: "thread=t1055" },
      { p: `/chat?thread_id=${mine}&x=1`, ctx: "thread_id=t1055" },
      { p: "/chat", init: { headers: { "x-thread-id": mine } }, ctx: "x-thread-id=t1055" },
      { p: "/chat", init: { method: "POST", headers: { "content-type": "application/json" }, body }, ctx: "thread_id=t1055" },
    ];
    for (const { p, init = {}, ctx } of cases) {
      const before = origin.requests.length;
      const res = await gate.fetch(p, { ...init, headers: as(alice, init.headers) });
      assert.equal(res.status, 200, p);
      await res.arrayBuffer();
      const seen = origin.requests.slice(before);
      assert.equal(seen.length, 1, p);
      assert.equal(seen[0].url, p);
      assert.equal(seen[0].headers["x-session-context"], ctx, p);
      const url = new URL(p, "http://x");
      const claims = verifyAssertion(seen[0].headers["x-session-assertion"], {
        secret: SECRET, host: new URL(gate.url).host, method: init.method ?? "GET", path: url.pathname, query: url.search.slice(1),
      });
      assert.equal(claims.sub, "alice");
      assert.equal(claims.ctx, ctx, `${p}: the assertion covers the context`);
      if (init.body) {
        // The bytes the gate read are the bytes forwarded.
        assert.equal(seen[0].body.toString("utf8"), body);
        assert.equal(seen[0].headers["content-length"], String(Buffer.byteLength(body)));
      }
    }
    // A client cannot send its own context.
    const before = origin.requests.length;
    const res = await gate.fetch("/chat", { headers: as(alice, { "x-session-context": "thread=t1056" }) });
    await res.arrayBuffer();
    const plain = origin.requests[before];
    assert.equal(plain.headers["x-session-context"], undefined);
    const claims = verifyAssertion(plain.headers["x-session-assertion"], { secret: SECRET, host: new URL(gate.url).host, method: "GET", path: "/chat", query: "" });
    assert.ok(!("ctx" in claims), "no ctx claim when no place held an id");
  });

  it("anything else in a bound place is refused with 403 before the origin, in every place", async () => {
    const mine = bound("alice", "t1055");
    const bobs = bound("bob", "t2000");
    const tampered = `t1056.${mine.split(".")[1]}`;
    const values = [bobs, "1056", tampered, "t1055", `${mine}x`, `t1055.${"A".repeat(22)}`];
    const requests = [];
    for (const v of values) {
      requests.push([`query ${v}`, `/chat?thread_id=${encodeURIComponent(v)}`, {}, "query:thread_id"]);
      requests.push([`header ${v}`, "/chat", { headers: { "x-thread-id": v } }, "header:x-thread-id"]);
      requests.push([`json ${v}`, "/chat", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ thread_id: v }) }, "json:thread_id"]);
      requests.push([`path ${v}`, `/api/threads/${encodeURIComponent(v)}`, {}, "path:/api/threads/{thread}"]);
    }
    requests.push(["two query values", `/chat?thread_id=${mine}&thread_id=${bobs}`, {}, "query:thread_id"]);
    requests.push(["two header values", "/chat", { headers: { "x-thread-id": `${mine}, ${bobs}` } }, "header:x-thread-id"]);
    requests.push(["two json values", "/chat", { method: "POST", headers: { "content-type": "application/json" }, body: `{"thread_id":"${mine}","thread_id":"${bobs}"}` }, "json:thread_id"]);
    requests.push(["json number", "/chat", { method: "POST", headers: { "content-type": "application/json" }, body: `{"thread_id":1056}` }, "json:thread_id"]);
    requests.push(["untyped json", "/chat", { method: "POST", body: Buffer.from(`{"thread_id":"${bobs}"}`) }, "json:thread_id"]);
    requests.push(["text/plain json", "/chat", { method: "POST", headers: { "content-type": "text/plain" }, body: `{"thread_id":"${bobs}"}` }, "json:thread_id"]);
    const before = origin.requests.length;
    const logStart = gate.logs.length;
    for (const [what, p, init, place] of requests) {
      const res = await gate.fetch(p, { ...init, headers: as(alice, init.headers) });
      assert.equal(res.status, 403, what);
      assert.equal(res.headers.get("cache-control"), "no-store", what);
      assert.deepEqual(await res.json(), { error: "forbidden", reason: "context" }, what);
      const line = await gate.waitForLog((l) => l.includes('"context_mismatch"') && l.includes(`"reason":"${place}"`));
      assert.ok(line, `${what}: logged`);
    }
    assert.equal(origin.requests.length, before, "the origin saw none of them");
    const mismatches = () => gate.logs.slice(logStart).map((l) => JSON.parse(l)).filter((l) => l.event === "context_mismatch");
    await gate.waitForLog(() => mismatches().length >= requests.length);
    const lines = mismatches();
    assert.equal(lines.length, requests.length);
    for (const l of lines) {
      assert.equal(l.event, "context_mismatch");
      assert.equal(l.status, 403);
      assert.equal(l.sub, "alice");
      assert.match(l.fingerprint, /^[0-9a-f]{32}$/);
      assert.ok(!JSON.stringify(l).includes(bobs.split(".")[1]) && !JSON.stringify(l).includes(mine.split(".")[1]));
    }
  });

  it("path spellings the normaliser folds are checked on the folded path", async () => {
    const bobs = bound("bob", "t2000");
    const host = new URL(gate.url).host;
    const spellings = [
      `/API/Threads/${bobs}`,
      `//api///threads//${bobs}`,
      `/api/./threads/${bobs}/messages`,
      `/api/x/../threads/${bobs}`,
      `/api/x/%2e%2e/threads/${bobs}`,
      `/api/x/%2E%2E/threads/${bobs}`,
      `/%61pi/threads/${bobs}`,
      `/api/threads/${bobs.replace(/t/g, "%74")}`,
      `/api;v=1/threads/${bobs}`,
    ];
    const before = origin.requests.length;
    for (const p of spellings) {
      const res = await socketRequest(gate.url, `GET ${p} HTTP/1.1\r\nHost: ${host}\r\nCookie: ${COOKIE}=${alice}\r\nConnection: close`);
      assert.equal(res.status, 403, p);
    }
    assert.equal(origin.requests.length, before, "the origin saw none of them");
  });

  it("no session: 401 (or the login redirect), on public paths too", async () => {
    const mine = bound("alice", "t1055");
    const before = origin.requests.length;
    const protectedPath = await gate.fetch(`/api/threads/${mine}`);
    assert.equal(protectedPath.status, 401);
    await protectedPath.arrayBuffer();
    const page = await gate.fetch(`/api/threads/${mine}`, { headers: { accept: "text/html" } });
    assert.equal(page.status, 302);
    assert.match(page.headers.get("location"), /^\/login\?next=/);
    for (const [p, init] of [
      [`/public/x?thread_id=${mine}`, {}],
      ["/public/x", { headers: { "x-thread-id": mine } }],
      ["/public/x", { method: "POST", headers: { "content-type": "application/json" }, body: `{"thread_id":"${mine}"}` }],
    ]) {
      const res = await gate.fetch(p, init);
      assert.equal(res.status, 401, p);
      await res.arrayBuffer();
    }
    assert.equal(origin.requests.length, before, "nothing reached the origin");
    const open = await gate.fetch("/public/x");
    assert.equal(open.status, 200, "a public path without a bound place is forwarded");
    await open.arrayBuffer();
  });

  it("a JSON body over 64 KiB is refused with 413; up to 64 KiB is forwarded byte for byte", async () => {
    const mine = bound("alice", "t1055");
    const head = `{"thread_id":"${mine}","pad":"`;
    const exact = head + "a".repeat(64 * 1024 - head.length - 2) + '"}';
    assert.equal(Buffer.byteLength(exact), 64 * 1024);
    const before = origin.requests.length;
    const ok = await gate.fetch("/chat", { method: "POST", headers: as(alice, { "content-type": "application/json" }), body: exact });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    assert.equal(origin.requests.length, before + 1);
    assert.equal(origin.requests.at(-1).body.toString("utf8"), exact);
    const big = await gate.fetch("/chat", { method: "POST", headers: as(alice, { "content-type": "application/json" }), body: `${exact} ` });
    assert.equal(big.status, 413);
    assert.equal(big.headers.get("cache-control"), "no-store");
    await big.arrayBuffer();
    // Streamed without a length (chunked): read up to the limit, then refused.
    const chunked = await new Promise((resolve, reject) => {
      const req = http.request(`${gate.url}/chat`, { method: "POST", headers: as(alice, { "content-type": "application/json", "transfer-encoding": "chunked" }) }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      });
      req.on("error", reject);
      for (let i = 0; i < 20; i++) req.write("x".repeat(8192));
      req.end();
    });
    assert.equal(chunked, 413);
    assert.equal(origin.requests.length, before + 1, "the origin saw neither large body");
    // Other types are streamed untouched, whatever their size.
    const upload = Buffer.alloc(200 * 1024, 7);
    const up = await gate.fetch("/upload", { method: "POST", headers: as(alice, { "content-type": "application/octet-stream" }), body: upload });
    assert.equal(up.status, 200);
    await up.arrayBuffer();
    assert.ok(origin.requests.at(-1).body.equals(upload));
  });

  it("a WebSocket upgrade to another user's thread is refused before the origin", async () => {
    const mine = bound("alice", "t1055");
    const bobs = bound("bob", "t2000");
    const upgrades = () => origin.requests.filter((r) => r.upgrade).length;
    const before = upgrades();
    const refused = await wsConnect(gate.url, `/api/threads/${bobs}/socket`, { Cookie: `${COOKIE}=${alice}`, Origin: gate.url });
    assert.equal(refused.status, 403);
    refused.end();
    assert.equal(upgrades(), before, "the origin saw no upgrade");
    const ok = await wsConnect(gate.url, `/api/threads/${mine}/socket`, { Cookie: `${COOKIE}=${alice}`, Origin: gate.url });
    assert.equal(ok.status, 101);
    ok.end();
    assert.equal(upgrades(), before + 1);
    assert.equal(origin.requests.filter((r) => r.upgrade).at(-1).headers["x-session-context"], "thread=t1055");
  });

  for (const kind of ["events", "stream"]) {
    it(`${kind === "events" ? "Server-Sent Events" : "a chunked response"} stream through unbuffered, as direct`, async () => {
      const mine = bound("alice", "t1055");
      const p = `/api/threads/${mine}/${kind}`;
      const direct = await chunkTimes(`${origin.url}${p}`);
      const directSent = sent.at(-1);
      const through = await chunkTimes(`${gate.url}${p}`, as(alice));
      const gateSent = sent.at(-1);
      assert.equal(through.status, 200);
      assert.equal(through.text, direct.text);
      const lines = (r) => r.text.split(kind === "events" ? "\n\n" : "\n").filter(Boolean);
      assert.equal(lines(through).length, CHUNKS);
      // Each chunk reaches the client before the origin sends the next one.
      const arrivalOf = (r, i) => {
        let seen = "";
        for (const a of r.arrivals) {
          seen += a.text;
          if (lines({ text: seen }).length > i && seen.split(kind === "events" ? "\n\n" : "\n").length > i + 1) return a.at;
        }
        return Infinity;
      };
      const deltas = [];
      for (let i = 0; i < CHUNKS; i++) {
        const viaGate = arrivalOf(through, i) - gateSent[i];
        const viaDirect = arrivalOf(direct, i) - directSent[i];
        if (i + 1 < CHUNKS) assert.ok(arrivalOf(through, i) < gateSent[i + 1], `chunk ${i} arrived before chunk ${i + 1} was sent`);
        deltas.push({ chunk: i, gate_ms: +viaGate.toFixed(2), direct_ms: +viaDirect.toFixed(2), extra_ms: +(viaGate - viaDirect).toFixed(2) });
      }
      const extra = deltas.map((d) => d.extra_ms).sort((a, b) => a - b);
      console.log(`${kind}: per-chunk latency send->arrival (ms)`, JSON.stringify(deltas));
      console.log(`${kind}: median extra latency through the gate ${extra[Math.floor(extra.length / 2)]} ms, max ${extra.at(-1)} ms`);
      assert.ok(extra[Math.floor(extra.length / 2)] < 20, "the median chunk is within a few ms of direct");
    });
  }
});

describe("BOUND_IDS without ORIGIN_SECRET", () => {
  it("is a configuration error: 500, nothing forwarded", async () => {
    const origin = await startOrigin();
    const gate = await startGate({
      name: "bound-misconfigured",
      vars: { ORIGIN_URL: origin.url, BOUND_IDS: "query:thread_id" },
      secrets: { SESSION_KEYS: await keygen("b2") },
    });
    try {
      const res = await gate.fetch("/anything");
      assert.equal(res.status, 500);
      await res.arrayBuffer();
      assert.equal(origin.requests.length, 0);
      const line = await gate.waitForLog((l) => l.includes('"config_error"'));
      assert.match(line, /BOUND_IDS: needs ORIGIN_SECRET/);
    } finally {
      await gate.stop();
      await origin.close();
    }
  });
});

describe("docs/origin.md, binding conversation ids", () => {
  it("shows the minting helpers exactly as the suite runs them", async () => {
    const fs = await import("node:fs");
    const doc = fs.readFileSync(path.join(ROOT, "docs/origin.md"), "utf8");
    for (const file of ["bind_id.mjs", "bind_id.py"]) {
      const code = fs.readFileSync(path.join(ROOT, "docs/examples", file), "utf8").trimEnd();
      assert.ok(doc.includes(code), `docs/origin.md holds docs/examples/${file} verbatim`);
    }
    assert.ok(doc.includes(`\`${bindId("0123456789abcdef0123456789abcdef", "alice", "t1055")}\``), "the worked example is right");
  });
});
