// The end-to-end benchmark behind `make bench` (scripts/bench.sh runs it
// after the microbenchmarks and the build).
//
// Five Workers, each served by its own workerd process (the binary wrangler
// ships, run directly: no wrangler, no miniflare proxy in the request path),
// stand in front of the same loopback origin (crates/cli/examples/bench_origin.rs):
//
//   pass-through  bench/passthrough.js: forwards, checks nothing
//   gate          build/index.js + build/index_bg.wasm: session-gate itself
//   peer          bench/peer.js: the same cookie check in JavaScript/WebCrypto
//   minimal-peer  bench/minimal-peer.js: the least SPEC.md allows, from the SPEC alone
//   gate-aa       the gate's build again, in its own process: the A/A check
//
// Each has the REVOCATIONS KV binding, served by bench/kv.js (an in-memory
// namespace speaking workerd's KV protocol) inside the same workerd process,
// and every request carries a cf object (workerd's cfBlobHeader), as on the
// edge. In each cell every timed Worker gets its own wrk at the same moment
// (measureTogether), with valid, invalid or missing cookies, for
// BENCH_ROUNDS rounds whose order rotates; each ratio is the median over
// rounds of that round's ratio, printed beside the A/A (gate/gate-aa). CPU
// time per request is the workerd process's scheduler run time
// (/proc/<pid>/task/*/schedstat) divided by the requests it served.
// BENCHMARKS.md ("Method") says why. A last run sends BENCH_MIXED_REQUESTS
// mixed valid and invalid requests to the gate and reports its RSS before and
// after.
//
// Everything listens on 127.0.0.1; every run is bounded in time.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";

import {
  BENCH, CF_BLOB, CLI, CONNECTIONS, COOKIE, KINDS, MIXED, MIXED_CHUNK, ONLY, WORKERS, ORIGIN_BIN, OUT, ROOT, ROUNDS, SECONDS, WARMUP,
  TOGETHER, WORKERD, log, measure, measureTogether, median, memory, runWrk, sleep, startOrigin, startWorker,
} from "./lib.mjs";

function mint(keys, args = []) {
  return execFileSync(CLI, ["mint", "--sub", "alice", ...args], { env: { ...process.env, SESSION_KEYS: keys } }).toString().trim();
}

function tamper(cookie) {
  const i = cookie.length - 10;
  return cookie.slice(0, i) + (cookie[i] === "A" ? "B" : "A") + cookie.slice(i + 1);
}

async function expectStatus(worker, cookie, status, body) {
  const headers = { "cf-blob": CF_BLOB, accept: "application/json" };
  if (cookie) headers.cookie = `${COOKIE}=${cookie}`;
  const res = await fetch(`${worker.url}/check`, { headers, redirect: "manual" });
  const text = await res.text();
  if (res.status !== status || (body && !text.includes(body))) {
    throw new Error(`${worker.name}: expected ${status} ${body ?? ""}, got ${res.status} ${text}`);
  }
}

function fmt(n, digits = 0) {
  return Number(n).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

async function e2e(report) {
  const origin = await startOrigin();
  const keys = `k1:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}`;
  const settings = { SESSION_KEYS: keys, ORIGIN_URL: origin.url, REFRESH_INTERVAL: "600" };
  const valid = mint(keys);
  const invalid = tamper(valid);
  const workers = [
    await startWorker("pass-through", { modules: [["worker.js", path.join(BENCH, "passthrough.js")]], bindings: { ORIGIN_URL: origin.url } }),
    await startWorker("gate", {
      modules: [["index.js", path.join(ROOT, "build", "index.js")], ["index_bg.wasm", path.join(ROOT, "build", "index_bg.wasm")]],
      bindings: settings,
    }),
    await startWorker("peer", { modules: [["worker.js", path.join(BENCH, "peer.js")]], bindings: settings }),
    await startWorker("minimal-peer", { modules: [["worker.js", path.join(BENCH, "minimal-peer.js")]], bindings: settings }),
    // The A/A check: the same build as "gate" in a process of its own. Its
    // ratio to "gate" is what noise alone does to every other ratio.
    await startWorker("gate-aa", {
      modules: [["index.js", path.join(ROOT, "build", "index.js")], ["index_bg.wasm", path.join(ROOT, "build", "index_bg.wasm")]],
      bindings: settings,
    }),
  ];
  const [pass, gate, peer] = workers;
  // BENCH_COMPARE=<dir>: another build of the gate (index.js and
  // index_bg.wasm, e.g. a copy of build/ from another branch) runs beside
  // the others, for before/after comparisons in one run.
  // Several builds may be named, comma-separated: each becomes a worker.
  for (const d of process.env.BENCH_COMPARE?.split(",").filter(Boolean) ?? []) {
    const dir = path.resolve(d);
    workers.push(await startWorker(`gate@${path.basename(dir)}`, {
      modules: [["index.js", path.join(dir, "index.js")], ["index_bg.wasm", path.join(dir, "index_bg.wasm")]],
      bindings: settings,
    }));
  }
  const kinds = [
    ["valid", valid],
    ["invalid", invalid],
    ["missing", null],
  ].filter(([kind]) => !KINDS || KINDS.includes(kind));
  // BENCH_WORKERS=gate,gate-aa,...: time only these (the gate and its A/A
  // twin always, a BENCH_COMPARE build always), e.g. for a quick A/B.
  const timed = workers.filter((w) => !WORKERS || w.name === "gate" || w.name === "gate-aa" || w.name.startsWith("gate@") || WORKERS.includes(w.name));

  // Every worker answers as it should before anything is timed.
  for (const kind of kinds) await expectStatus(pass, kind[1], 200, "benchmark origin");
  for (const w of workers.filter((w) => w !== pass)) {
    const before = (await origin.stats()).identified;
    await expectStatus(w, valid, 200, "benchmark origin");
    if ((await origin.stats()).identified !== before + 1) throw new Error(`${w.name}: no identity header at the origin`);
    await expectStatus(w, invalid, 401, '"reason":"invalid"');
    await expectStatus(w, null, 401, '"reason":"missing"');
  }
  const startRss = Object.fromEntries(workers.map((w) => [w.name, memory(w.pid).rss]));

  log(`warm-up: ${WARMUP}s per worker and cookie`);
  for (const w of timed) for (const [, cookie] of kinds) measure(w, cookie, WARMUP);

  const samples = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [kind, cookie] of kinds) {
      // The order rotates every round and reverses every other one, so no
      // worker keeps a place next to another's wake.
      const rotated = timed.map((_, i) => timed[(i + round) % timed.length]);
      const order = Math.floor(round / timed.length) % 2 ? rotated.reverse() : rotated;
      const results = TOGETHER ? await measureTogether(order, cookie, SECONDS) : order.map((w) => measure(w, cookie, SECONDS));
      for (const [i, w] of order.entries()) {
        const m = results[i];
        (samples[`${kind}/${w.name}`] ??= []).push(m);
        log(`round ${round + 1} ${kind.padEnd(7)} ${w.name.padEnd(12)} ${fmt(m.rps)} req/s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms  ${m.cpuUs.toFixed(0)} µs CPU/req  errors ${m.errors}`);
      }
    }
  }
  const med = {};
  for (const [key, list] of Object.entries(samples)) {
    med[key] = {
      rps: median(list.map((m) => m.rps)),
      p50: median(list.map((m) => m.p50)),
      p99: median(list.map((m) => m.p99)),
      cpuUs: median(list.map((m) => m.cpuUs)),
      errors: list.reduce((a, m) => a + m.errors, 0),
      requests: list.reduce((a, m) => a + m.requests, 0),
    };
  }

  const afterRuns = Object.fromEntries(workers.map((w) => [w.name, memory(w.pid).rss]));

  // Memory: the gate, then the peer, under BENCH_MIXED_REQUESTS mixed
  // valid/invalid requests each, in wrk runs of MIXED_CHUNK seconds until
  // there were enough. The peer's run shows how much of any change is the
  // runtime's own (V8 sizes its heaps lazily) rather than the gate's.
  const memoryRun = async (w) => {
    log(`memory: ${MIXED} mixed requests to ${w.name}`);
    const before = memory(w.pid);
    const totals = { requests: 0, ok: 0, denied: 0, other: 0, connect: 0, read: 0, write: 0, timeout: 0 };
    const trend = [];
    let agrees = true;
    let reachedOrigin = 0;
    while (totals.requests < MIXED) {
      const identifiedBefore = (await origin.stats()).identified;
      const chunk = runWrk(w.url, {
        seconds: MIXED_CHUNK,
        script: "mixed.lua",
        extraEnv: { BENCH_VALID_COOKIE: valid, BENCH_INVALID_COOKIE: invalid, BENCH_CF_BLOB: CF_BLOB },
      });
      for (const k of Object.keys(totals)) totals[k] += chunk[k];
      // Requests wrk abandoned when its time was up may still be on their way
      // through the Worker: wait until the origin's count has not moved for
      // 500 ms (at most 10 s). One quiet 50 ms was too short with six
      // workerd processes on two cores: a straggler then counted in the next
      // chunk, which made that chunk look like more than one extra request
      // per connection (seen for the gate and the peer alike, 2026-12-02).
      let identified = (await origin.stats()).identified;
      for (let tries = 0, quiet = 0; tries < 200 && quiet < 10; tries++) {
        await sleep(50);
        const now = (await origin.stats()).identified;
        quiet = now === identified ? quiet + 1 : 0;
        identified = now;
      }
      const reached = identified - identifiedBefore;
      reachedOrigin += reached;
      // A request in flight when wrk stops may reach the origin without its
      // response being counted: at most one per connection.
      agrees &&= reached >= chunk.ok && reached <= chunk.ok + CONNECTIONS;
      trend.push(memory(w.pid).rss);
      log(`memory: ${w.name} ${fmt(totals.requests)} requests, RSS ${(trend.at(-1) / 1024).toFixed(1)} MB`);
    }
    await sleep(500);
    const after = memory(w.pid);
    const errors = totals.connect + totals.read + totals.write + totals.timeout + totals.other;
    return { worker: w.name, before: before.rss, after: after.rss, hwm: after.hwm, trend, totals, errors, agrees, reachedOrigin };
  };
  const memoryRuns = MIXED > 0 ? [await memoryRun(gate), await memoryRun(peer)] : [];
  const mixed = memoryRuns[0]?.totals ?? null;
  const mixedErrors = memoryRuns.reduce((a, m) => a + m.errors, 0);
  const originAgrees = memoryRuns.every((m) => m.agrees);
  const logLines = fs.readFileSync(gate.logFile, "utf8").split("\n").filter((l) => l.startsWith('{"event"')).length;
  for (const w of workers) w.stop();

  const wv = execFileSync(WORKERD, ["--version"]).toString().trim();
  const rows = [];
  rows.push(`### End to end: ${wv}, wrk -t1 -c${CONNECTIONS}, ${ROUNDS} rounds of ${SECONDS} s per cell (medians)`);
  rows.push("");
  rows.push("| cookie | worker | req/s | p50 ms | p99 ms | CPU µs/req | requests | errors |");
  rows.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [kind] of kinds) {
    for (const w of timed) {
      const m = med[`${kind}/${w.name}`];
      rows.push(`| ${kind} | ${w.name} | ${fmt(m.rps)} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${fmt(m.cpuUs)} | ${fmt(m.requests)} | ${m.errors} |`);
    }
  }
  rows.push("");
  // The load on a shared machine changes from second to second, and every
  // worker of one round ran within a few seconds of the others: each ratio
  // is the median over rounds of that round's ratio, not a ratio of medians.
  const perRound = (kind, a, b, metric) =>
    samples[`${kind}/${a}`].map((m, i) => m[metric] / samples[`${kind}/${b}`][i][metric]);
  const paired = (kind, a, b, metric) => median(perRound(kind, a, b, metric));
  const others = ["pass-through", "peer", "minimal-peer", "gate-aa"]
    .filter((o) => timed.some((w) => w.name === o))
    .map((o) => [o, o === "gate-aa" ? "gate-aa (A/A)" : o]);
  const compares = timed.filter((w) => w.name.startsWith("gate@"));
  for (const c of compares) others.push([c.name, c.name]);
  rows.push("The gate's ratios to the others: for each round, the gate's number divided by the other's in the same " +
    "round, then the median over the rounds. Throughput: above 1 favours the gate; latency and CPU: below 1 does. " +
    "`gate-aa` is the same build in a second workerd process (the A/A check): its ratio is what noise alone does, " +
    "and a ratio to anything else means no more than that ratio's distance from 1.");
  rows.push("");
  // The A/A check in full: the median and the quartiles of the per-round
  // gate/gate-aa ratios, and a compare build's A/B beside it.
  const quartiles = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))];
    return [q(0.25), q(0.5), q(0.75)];
  };
  const checks = {};
  rows.push("| cookie | CPU/req gate/gate-aa (A/A): median [quartiles] | req/s gate/gate-aa" + compares.map((c) => ` | CPU/req gate/${c.name} (A/B): median [quartiles]`).join("") + " |");
  rows.push("| --- | ---: | ---:" + compares.map(() => " | ---:").join("") + " |");
  const q3 = (q) => `${q[1].toFixed(3)} [${q[0].toFixed(3)}, ${q[2].toFixed(3)}]`;
  for (const [kind] of kinds) {
    const aa = quartiles(perRound(kind, "gate", "gate-aa", "cpuUs"));
    const aaRps = paired(kind, "gate", "gate-aa", "rps");
    const ab = Object.fromEntries(compares.map((c) => [c.name, quartiles(perRound(kind, "gate", c.name, "cpuUs"))]));
    checks[kind] = { aa, aaRps, ab };
    rows.push(`| ${kind} | ${q3(aa)} | ${aaRps.toFixed(3)}` + compares.map((c) => ` | ${q3(ab[c.name])}`).join("") + " |");
  }
  rows.push("");
  const metrics = [["rps", "req/s"], ["p50", "p50"], ["p99", "p99"], ["cpuUs", "CPU/req"]];
  rows.push(`| cookie | ${metrics.flatMap(([, label]) => others.map(([, o]) => `${label} gate/${o}`)).join(" | ")} |`);
  rows.push(`| --- | ${metrics.flatMap(() => others.map(() => "---:")).join(" | ")} |`);
  const ratios = {};
  for (const [kind] of kinds) {
    ratios[kind] = {};
    const cells = [];
    for (const [metric] of metrics) {
      for (const [o] of others) {
        const value = paired(kind, "gate", o, metric);
        ratios[kind][`${metric}/${o}`] = value;
        cells.push(value.toFixed(2));
      }
    }
    rows.push(`| ${kind} | ${cells.join(" | ")} |`);
  }
  rows.push("");
  for (const compare of compares) {
    // A compare build's own CPU ratios, same rounds: its "before" beside
    // the gate's "after", and its ratio to the other compare builds (one
    // step's A/B when they are successive builds).
    const vs = [...others.filter(([o]) => o !== compare.name && o !== "gate-aa")];
    if (vs.length === 0) continue; // only the gate and its twin were timed: the A/B table says it all
    rows.push(`CPU/req of ${compare.name} in the same rounds (median of per-round ratios):`, "");
    rows.push(`| cookie | ${vs.map(([, o]) => `${compare.name}/${o}`).join(" | ")} |`);
    rows.push(`| --- | ${vs.map(() => "---:").join(" | ")} |`);
    for (const [kind] of kinds) {
      rows.push(`| ${kind} | ${vs.map(([o]) => q3(quartiles(perRound(kind, compare.name, o, "cpuUs")))).join(" | ")} |`);
      ratios[kind][`compare/${compare.name}`] = Object.fromEntries(vs.map(([o]) => [o, paired(kind, compare.name, o, "cpuUs")]));
    }
    rows.push("");
  }
  rows.push("Startup (workerd spawn to first response; one sample each, noisy): " +
    workers.map((w) => `${w.name} ${w.firstResponseMs.toFixed(0)} ms`).join(", ") + ".");
  rows.push("");
  const mb = (kb) => `${(kb / 1024).toFixed(1)} MB`;
  if (memoryRuns.length > 0) {
    rows.push(`### Memory: workerd under ${fmt(MIXED)}+ mixed requests (valid and invalid cookies alternating), the gate and then the peer`);
    rows.push("");
    rows.push("| worker | requests | RSS at start | RSS before | RSS after | change | peak (VmHWM) | 200 | 401 | other statuses | socket errors | reached the origin |");
    rows.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const m of memoryRuns) {
      const t = m.totals;
      rows.push(`| ${m.worker} | ${fmt(t.requests)} | ${mb(startRss[m.worker])} | ${mb(m.before)} | ${mb(m.after)} | ${((m.after - m.before) / 1024).toFixed(1)} MB | ${mb(m.hwm)} | ${fmt(t.ok)} | ${fmt(t.denied)} | ${t.other} | ${t.connect + t.read + t.write + t.timeout} | ${fmt(m.reachedOrigin)} |`);
    }
    rows.push("");
    for (const m of memoryRuns) {
      rows.push(`RSS of ${m.worker} after each ${MIXED_CHUNK}-second wrk run: ${m.trend.map((kb) => (kb / 1024).toFixed(1)).join(", ")} MB.`);
      rows.push("");
    }
  }
  rows.push("RSS of every worker at start and after the timed runs above (V8 and workerd grow their heaps " +
    "under load, whatever the Worker): " +
    workers.map((w) => `${w.name} ${mb(startRss[w.name])} → ${mb(afterRuns[w.name])}`).join(", ") +
    `. The gate wrote ${fmt(logLines)} log lines in all.`);
  report.push(...rows, "");
  return {
    med,
    ratios,
    // Every round's figures, for re-reading a run without running it again.
    rounds: Object.fromEntries(Object.entries(samples).map(([key, list]) =>
      [key, list.map((m) => ({ requests: m.requests, cpuUs: Number(m.cpuUs.toFixed(2)), rps: Math.round(m.rps) }))])),
    checks,
    memory: memoryRuns,
    mixedErrors,
    originAgrees,
    mixed,
  };
}

function micro(report) {
  const dir = path.join(ROOT, "target", "criterion");
  const get = (id) => {
    const file = path.join(dir, id, "new", "estimates.json");
    if (!fs.existsSync(file)) return null;
    return JSON.parse(fs.readFileSync(file, "utf8")).median.point_estimate;
  };
  const floor = get("cookie/hmac_floor");
  if (floor === null) {
    report.push("### Microbenchmarks: not run (no criterion results in target/criterion)", "");
    return null;
  }
  const rows = [
    "### Microbenchmarks (criterion, native, thread CPU time, medians)",
    "",
    "| benchmark | what | ns | ratio to the floor |",
    "| --- | --- | ---: | ---: |",
  ];
  const items = [
    ["cookie/hmac_floor", "HMAC-SHA256 of the tagged bytes, pre-keyed state (the floor)"],
    ["cookie/hmac_keyed_per_call", "the same HMAC, keyed on every call"],
    ["cookie/verify_valid", "verify a valid cookie: parse, tag, claims, time policy"],
    ["cookie/verify_bad_tag", "refuse a cookie with a wrong tag"],
    ["cookie/mint", "mint a cookie: canonical JSON, base64url, tag"],
    ["request/valid", "the core's whole decision for a request with a valid cookie"],
    ["request/missing", "the core's whole decision for a request without a cookie"],
  ];
  const out = {};
  for (const [id, what] of items) {
    const ns = get(id);
    if (ns === null) continue;
    out[id] = ns;
    rows.push(`| \`${id}\` | ${what} | ${fmt(ns)} | ${(ns / floor).toFixed(2)} |`);
  }
  report.push(...rows, "");
  return out;
}

function size(report) {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "session-gate-dry-run-"));
  const out = execFileSync(path.join(ROOT, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  }).toString();
  const upload = /Total Upload: ([\d.]+ KiB) \/ gzip: ([\d.]+ KiB)/.exec(out);
  fs.rmSync(outdir, { recursive: true, force: true });
  const wasm = fs.readFileSync(path.join(ROOT, "build", "index_bg.wasm"));
  const js = fs.readFileSync(path.join(ROOT, "build", "index.js"));
  const gz = (b) => zlib.gzipSync(b, { level: 9 }).length;
  const rows = [
    "### Size",
    "",
    "| what | raw | gzip -9 |",
    "| --- | ---: | ---: |",
    `| \`wrangler deploy --dry-run\` total upload | ${upload?.[1] ?? "?"} | ${upload?.[2] ?? "?"} (wrangler's gzip) |`,
    `| build/index_bg.wasm | ${fmt(wasm.length)} B | ${fmt(gz(wasm))} B |`,
    `| build/index.js | ${fmt(js.length)} B | ${fmt(gz(js))} B |`,
  ];
  for (const d of process.env.BENCH_COMPARE?.split(",").filter(Boolean) ?? []) {
    const dir = path.resolve(d);
    const other = fs.readFileSync(path.join(dir, "index_bg.wasm"));
    rows.push(`| ${path.basename(dir)}: index_bg.wasm (BENCH_COMPARE) | ${fmt(other.length)} B | ${fmt(gz(other))} B |`);
  }
  rows.push("");
  // What dominates: twiggy on the shipped module, grouped by crate.
  try {
    // The shipped module has no function names (scripts/build.sh strips
    // them); the build keeps a copy with names for this breakdown.
    const named = path.join(ROOT, "target", "index_bg.with-names.wasm");
    const analysed = fs.existsSync(named) ? named : path.join(ROOT, "build", "index_bg.wasm");
    const json = JSON.parse(execFileSync("twiggy", ["top", "-n", "100000", "-f", "json", analysed], { maxBuffer: 1 << 26 }).toString());
    const groups = new Map();
    for (const item of json) {
      const name = item.name;
      let crate;
      if (/^(data segment|custom section|"function names"|import |export |table|elem|type\[|global\[|memory)/.test(name) || name.startsWith('"')) {
        crate = /^data segment/.test(name) ? "data segments (string constants, tables)" : name.replace(/\[\d+\]$/, "");
      } else {
        const m = /^<?(?:&(?:mut )?)?([A-Za-z_][A-Za-z0-9_]*)/.exec(name.replace(/^<\w+ as /, "<"));
        crate = m ? m[1] : "other";
        if (/^code\[\d+\]$/.test(name)) crate = "unnamed code";
        // The fetch handler's async state machine, with the core it
        // inlines, is compiled into js_sys's future_to_promise closure.
        if (name.startsWith("js_sys::futures::future_to_promise::")) crate = "the fetch handler (async, in js_sys's future_to_promise)";
      }
      groups.set(crate, (groups.get(crate) ?? 0) + item.shallow_size);
    }
    const total = fs.statSync(analysed).size;
    const top = [...groups.entries()].sort((a, b) => b[1] - a[1]).slice(0, 14);
    rows.push(`What the wasm holds (twiggy on ${path.relative(ROOT, analysed)}, the same module before its name section is dropped; shallow bytes grouped by crate or section):`, "");
    rows.push("| crate or section | bytes | share |", "| --- | ---: | ---: |");
    for (const [crate, bytes] of top) rows.push(`| ${crate} | ${fmt(bytes)} | ${((bytes / total) * 100).toFixed(1)}% |`);
    rows.push("");
    const items = json.filter((i) => !/^data segment|^custom section|^"/.test(i.name)).slice(0, 8);
    rows.push("Largest functions:", "");
    rows.push("| function | bytes |", "| --- | ---: |");
    for (const i of items) rows.push(`| \`${i.name.replace(/::h[0-9a-f]{16}$/, "").replace(/\|/g, "\\|").slice(0, 110)}\` | ${fmt(i.shallow_size)} |`);
    rows.push("");
  } catch (e) {
    rows.push(`(twiggy unavailable: ${e.message.split("\n")[0]}; bench/wasm-sizes.mjs instead, from the name section)`, "");
    try {
      const out = execFileSync("node", [path.join(BENCH, "wasm-sizes.mjs"), path.join(ROOT, "target", "index_bg.with-names.wasm")]).toString();
      rows.push("```", out.trimEnd(), "```", "");
    } catch (e2) {
      rows.push(`(bench/wasm-sizes.mjs failed: ${e2.message.split("\n")[0]})`, "");
    }
  }
  report.push(...rows);
  return { upload: upload?.slice(1), wasm: wasm.length, wasmGz: gz(wasm) };
}

async function main() {
  for (const [what, file] of [["workerd", WORKERD], ["the origin", ORIGIN_BIN], ["the CLI", CLI], ["the gate", path.join(ROOT, "build", "index_bg.wasm")]]) {
    if (!fs.existsSync(file)) throw new Error(`${what} is missing (${file}); run make bench`);
  }
  const report = [];
  const when = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "?";
  const load = os.loadavg().map((l) => l.toFixed(2)).join(" ");
  report.push(`## session-gate benchmark results`, "");
  report.push(`${when}; ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}; load average at start ${load}.`, "");
  let microResult = null;
  if (!ONLY || ONLY === "micro") microResult = micro(report);
  let e2eResult = null;
  if (!ONLY || ONLY === "e2e") e2eResult = await e2e(report);
  let sizeResult = null;
  if (!ONLY || ONLY === "size") sizeResult = size(report);
  const compare = process.env.BENCH_COMPARE ? ` BENCH_COMPARE=${process.env.BENCH_COMPARE}` : "";
  report.push(`Reproduce: \`make bench\` (knobs: BENCH_SECONDS=${SECONDS} BENCH_ROUNDS=${ROUNDS} BENCH_CONNECTIONS=${CONNECTIONS} BENCH_MIXED_REQUESTS=${MIXED}${compare}).`, "");
  const text = report.join("\n");
  fs.writeFileSync(OUT, text);
  // Pretty-printed, but each round's figures on one line: 60 rounds of six
  // Workers and three cookies would otherwise take about 6,000 lines.
  const json = JSON.stringify({ when, micro: microResult, e2e: e2eResult, size: sizeResult }, null, 2)
    .replace(/\{\n\s+"requests": (\d+),\n\s+"cpuUs": ([\d.]+),\n\s+"rps": (\d+)\n\s+\}/g, '{ "requests": $1, "cpuUs": $2, "rps": $3 }');
  fs.writeFileSync(OUT.replace(/\.md$/, ".json"), json + "\n");
  console.log(text);
  if (e2eResult && (e2eResult.mixedErrors !== 0 || !e2eResult.originAgrees)) {
    const detail = e2eResult.memory.map((m) => `${m.worker}: ${m.totals.ok} answered 200, ${m.reachedOrigin} reached the origin`).join("; ");
    throw new Error(`the memory run had ${e2eResult.mixedErrors} errors, or the origin disagrees with the responses (${detail})`);
  }
  const e2eErrors = e2eResult ? Object.values(e2eResult.med).reduce((a, m) => a + m.errors, 0) : 0;
  if (e2eErrors) throw new Error(`${e2eErrors} socket errors during the timed runs`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e.stack ?? e);
    process.exit(1);
  },
);
