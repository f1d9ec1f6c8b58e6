// The revocation bound, measured from outside (issue 12, item 3): two gate
// processes (two `wrangler dev`, so two workerd processes and separate
// isolates) share one session directory (the second binds `SESSIONS` to the
// first one's class through `script_name`, over a private dev registry) and
// one local KV (the same persist folder). A session is ended through gate A;
// gate B is polled back to back, and the time from the end call's return to
// B's first refusal is recorded.
//
//   node bench/bound.mjs [--trials N] [--modes dc0,dc1,kv]
//
// Modes: `dc0` and `dc1` (SESSION_DIRECTORY=on, DIRECTORY_CHECK=0 or 1) end
// the session with the user's own revoke endpoint from a second session
// (directory only: KV is not written, so only the directory can make B
// refuse), and also, for dc1, with logout (directory and KV); `kv`
// (directory off) ends it with logout, which writes `sid:` to KV.
// REVOCATION_CACHE stays at its default (10 s) everywhere.
//
// Then, with the directory on, the Durable Object calls per request: gate A
// runs bench/directory-count.mjs, which counts its calls to `SESSIONS`.
//
// It measures only what a client sees (statuses and times), so it stays
// valid when the check path changes (a background refresh, say). `make
// bench` runs it after bench/run.mjs; tests/e2e/bound.test.mjs uses
// startPair, login, endBy and race to prove the bound.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startGate, startOrigin, keygen, setCookies } from "../tests/e2e/harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const COOKIE = "__Host-session";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The fingerprint the gate shows for a cookie. */
export const fingerprint = (cookie) => {
  const sid = JSON.parse(Buffer.from(cookie.split(".")[2], "base64url").toString("utf8")).sid;
  return crypto.createHash("sha256").update(sid).digest("hex").slice(0, 32);
};

/** The loopback origin: POST /login?user=U signs U in. */
export function startLoginOrigin() {
  return startOrigin((req) => {
    const url = new URL(req.url, "http://origin.invalid");
    if (url.pathname === "/login" && req.method === "POST") {
      return { status: 303, headers: { "X-Session-Login": url.searchParams.get("user"), Location: "/app" } };
    }
    return undefined;
  });
}

/**
 * Gate A (owns the directory's class, or none with `directory` off) and one
 * gate B per entry of `checks` (DIRECTORY_CHECK of each; with the directory
 * off, one B). Worker names carry the pid and a random tag, and the dev
 * registry is a private folder, so no other suite's `wrangler dev` can
 * answer for them. All share one persist folder: one local KV.
 */
export async function startPair({ origin, keys, directory = true, checks = [1], mainA } = {}) {
  const tag = `${process.pid}-${crypto.randomBytes(3).toString("hex")}`;
  const persistTo = fs.mkdtempSync(path.join(os.tmpdir(), "session-gate-bound-state-"));
  const registry = fs.mkdtempSync(path.join(os.tmpdir(), "session-gate-bound-registry-"));
  const owner = `sg-bound-a-${tag}`;
  const secrets = { SESSION_KEYS: keys };
  const vars = (check) => ({
    ORIGIN_URL: origin.url,
    ...(directory ? { SESSION_DIRECTORY: "on", DIRECTORY_CHECK: String(check) } : {}),
  });
  const common = { secrets, persistTo, registry };
  const a = await startGate({
    ...common, name: "bound-a", workerName: owner, vars: vars(checks[0]), ...(mainA ? { main: mainA } : {}),
  });
  const bs = [];
  try {
    for (const [i, check] of (directory ? checks : [null]).entries()) {
      bs.push(await startGate({
        ...common, name: `bound-b${i}`, workerName: `sg-bound-b${i}-${tag}`, vars: vars(check),
        ...(directory ? { directoryFrom: owner } : {}),
      }));
    }
  } catch (e) {
    await Promise.all([a, ...bs].map((g) => g.stop()));
    throw e;
  }
  return {
    a,
    bs,
    async stop() {
      await Promise.all([a, ...bs].map((g) => g.stop()));
      for (const dir of [persistTo, registry]) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Signs `user` in through gate `g`; the cookie value. */
export async function login(g, user) {
  const res = await g.fetch(`/login?user=${encodeURIComponent(user)}`, { method: "POST" });
  await res.arrayBuffer();
  if (res.status !== 303) throw new Error(`login through ${g.url}: ${res.status}`);
  return setCookies(res)[COOKIE].value;
}

const withCookie = (cookie, headers = {}) => ({ cookie: `${COOKIE}=${cookie}`, ...headers });

/** One request with the session at gate `g`: its status. */
export async function status(g, cookie) {
  const res = await g.fetch("/app/bound", { headers: withCookie(cookie, { accept: "application/json" }) });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Ends `victim` through gate `a`: `revoke` = the user's revoke endpoint from
 * `other` (a second session of the same user; directory only), `logout` =
 * the victim's own logout (KV, and the directory when on).
 */
export async function endBy(a, how, victim, other) {
  const res = how === "revoke"
    ? await a.fetch("/.session-gate/sessions/revoke", {
      method: "POST",
      headers: withCookie(other, { "sec-fetch-site": "same-origin", "content-type": "application/x-www-form-urlencoded" }),
      body: `id=${fingerprint(victim)}`,
    })
    : await a.fetch("/.session-gate/logout", { method: "POST", headers: withCookie(victim, { "sec-fetch-site": "same-origin" }) });
  const body = await res.text();
  const ok = how === "revoke" ? res.status === 200 && body.includes(fingerprint(victim)) : res.status === 303;
  if (!ok) throw new Error(`end by ${how} through A: ${res.status} ${body}`);
}

/**
 * Polls each gate of `gates` back to back with `cookie`, ends the session
 * with `end()` once every gate has accepted it for `warmMs`, and keeps
 * polling until every gate refuses it or `limitMs` passed since the end.
 * Per gate: `acceptedBefore` (ms from its last 200 to the end call's start:
 * it accepted just before), `staleAfter` (ms after the end call returned
 * that it still accepted, or null), `refusedAfter` (ms from the end call's
 * return to the arrival of its first 401; null if it never refused).
 */
export async function race(gates, cookie, end, { warmMs = 300, limitMs = 30_000 } = {}) {
  const t = () => performance.now();
  let endStart = Infinity;
  let endDone = Infinity;
  const polls = gates.map(async (g) => {
    const seen = [];
    for (;;) {
      const sent = t();
      const code = await status(g, cookie);
      const got = t();
      seen.push({ sent, got, code });
      if (code === 401 && sent > endStart) break;
      if (code !== 200 && code !== 401) throw new Error(`${g.url}: ${code}`);
      if (got - endDone > limitMs) break;
      await sleep(5);
    }
    return seen;
  });
  const start = t();
  // Every gate has answered 200 for warmMs before the end.
  await sleep(warmMs);
  endStart = t();
  await end();
  endDone = t();
  const results = await Promise.all(polls);
  return results.map((seen) => {
    const before = seen.filter((s) => s.code === 200 && s.sent < endStart);
    const lastBefore = before.at(-1);
    const stale = seen.filter((s) => s.code === 200 && s.sent > endDone).at(-1);
    const refused = seen.find((s) => s.code === 401 && s.sent > endStart);
    return {
      acceptedBefore: lastBefore ? endStart - lastBefore.got : null,
      acceptedSince: lastBefore ? lastBefore.sent - start : null,
      staleAfter: stale ? stale.got - endDone : null,
      refusedAfter: refused ? refused.got - endDone : null,
      endMs: endDone - endStart,
      polls: seen.length,
    };
  });
}

/** Reads gate A's Durable Object call count (bench/directory-count.mjs). */
async function doCalls(a) {
  const res = await a.fetch("/__bench/directory-calls");
  return Number(await res.text());
}

/** The Durable Object calls of login, N requests at `rate`/s, and logout. */
async function callsPerRequest(a, user, { requests = 100, rate = 20 } = {}) {
  let before = await doCalls(a);
  const cookie = await login(a, user);
  const loginCalls = (await doCalls(a)) - before;
  before = await doCalls(a);
  const t0 = performance.now();
  for (let i = 0; i < requests; i += 1) {
    const code = await status(a, cookie);
    if (code !== 200) throw new Error(`request ${i}: ${code}`);
    const wait = t0 + ((i + 1) * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const requestCalls = (await doCalls(a)) - before;
  before = await doCalls(a);
  await endBy(a, "logout", cookie);
  const logoutCalls = (await doCalls(a)) - before;
  return { loginCalls, requests, rate, requestCalls, perRequest: requestCalls / requests, logoutCalls };
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x) => (x === null ? "-" : `${Math.round(x)}`);

async function main() {
  const argv = process.argv.slice(2);
  const arg = (name, fallback) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : fallback;
  };
  const trials = Number(arg("--trials", process.env.BOUND_TRIALS ?? "5"));
  const modes = arg("--modes", "dc0,dc1,kv").split(",");
  const origin = await startLoginOrigin();
  const keys = await keygen("k1");
  const rows = [];
  const calls = [];
  // How long B may rely on an answer: DIRECTORY_CHECK, or REVOCATION_CACHE
  // (its default, 10 s) with the directory off.
  const period = { dc0: 0, dc1: 1000, kv: 10_000 };
  const run = async (mode, how, pair) => {
    const results = [];
    for (let i = 0; i < trials; i += 1) {
      const user = `bound-${mode}-${how}-${i}`;
      const victim = await login(pair.a, user);
      const other = how === "revoke" ? await login(pair.a, user) : undefined;
      // B is polled for 300 ms plus a random part of the period before the
      // end, so the age of B's last answer when the end lands is spread
      // over the whole period (the max tends to the bound, the median to
      // half of it), not always "just fetched" (the worst case).
      const warmMs = 300 + Math.random() * period[mode];
      const [r] = await race(pair.bs, victim, () => endBy(pair.a, how, victim, other), { warmMs });
      if (r.refusedAfter === null) throw new Error(`${mode}/${how}: B never refused`);
      results.push(r);
      process.stderr.write(`[bound] ${mode}/${how} trial ${i + 1}: refused after ${ms(r.refusedAfter)} ms\n`);
    }
    const refused = results.map((r) => r.refusedAfter);
    rows.push({
      mode, how, trials,
      median: median(refused), max: Math.max(...refused), min: Math.min(...refused),
      endMs: median(results.map((r) => r.endMs)),
      acceptedBefore: Math.max(...results.map((r) => r.acceptedBefore)),
    });
  };
  try {
    for (const mode of modes) {
      const directory = mode !== "kv";
      const check = mode === "dc0" ? 0 : 1;
      const mainA = directory ? path.join(HERE, "directory-count.mjs") : undefined;
      process.stderr.write(`[bound] starting two gates for ${mode}\n`);
      const pair = await startPair({ origin, keys, directory, checks: [check], mainA });
      try {
        if (directory) {
          await run(mode, "revoke", pair);
          if (mode === "dc1") await run(mode, "logout", pair);
          calls.push({ mode, ...(await callsPerRequest(pair.a, `calls-${mode}`)) });
        } else {
          await run(mode, "logout", pair);
        }
      } finally {
        await pair.stop();
      }
    }
  } finally {
    await origin.close();
  }
  const lines = [
    `Time to refusal at gate B after the end call through gate A returned (ms; ${trials} trials each; REVOCATION_CACHE=10):`,
    "",
    "| mode | ended by | median | max | min | end call (median) | B's last 200 before the end, at most |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) => `| ${r.mode} | ${r.how} | ${ms(r.median)} | ${ms(r.max)} | ${ms(r.min)} | ${ms(r.endMs)} | ${ms(r.acceptedBefore)} ms |`),
    "",
    "Durable Object calls (gate A, counted by bench/directory-count.mjs):",
    "",
    "| mode | login | requests (rate) | calls for them | per request | logout |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...calls.map((c) => `| ${c.mode} | ${c.loginCalls} | ${c.requests} (${c.rate}/s) | ${c.requestCalls} | ${c.perRequest.toFixed(2)} | ${c.logoutCalls} |`),
  ];
  console.log(lines.join("\n"));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
