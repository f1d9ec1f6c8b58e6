// A V8 CPU profile of one Worker under wrk load, through workerd's inspector
// (the Chrome DevTools protocol), and where its time goes.
//
//   node bench/profile.mjs <worker> <valid|invalid|missing> [seconds] [out.cpuprofile]
//
// <worker> is a directory holding index.js and index_bg.wasm (a build of the
// gate; for function names use a module that still has its name section,
// e.g. target/index_bg.with-names.wasm copied in as index_bg.wasm), or a
// JavaScript Worker such as bench/peer.js. The Worker runs in its own workerd
// process in front of the benchmark origin, with the same settings, KV and cf
// blob as bench/run.mjs; it is warmed for 2 s, then profiled (50 µs sampling)
// while wrk -t1 -c16 loads it. Prints the top functions by self and by
// inclusive samples; the .cpuprofile opens in Chrome DevTools.
//
// Built-ins called from JavaScript (console.log in a peer) count as their
// caller's self time; called from Wasm they appear under their import's name
// (__wbg_log_…). Every figure is a share of one process's samples: compare
// shapes between builds, not totals.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { CF_BLOB, CLI, COOKIE, freePort, startOrigin, startWorker } from "./lib.mjs";

const [workerArg, kind = "valid", seconds = "5", out = path.join(os.tmpdir(), `session-gate-${kind}.cpuprofile`)] = process.argv.slice(2);
if (!workerArg || !["valid", "invalid", "missing"].includes(kind)) {
  console.error("usage: node bench/profile.mjs <build dir | worker.js> <valid|invalid|missing> [seconds] [out.cpuprofile]");
  process.exit(2);
}
const WebSocketImpl = globalThis.WebSocket ?? (await import("ws")).default;

const origin = await startOrigin();
const keys = `k1:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}`;
const settings = { SESSION_KEYS: keys, ORIGIN_URL: origin.url, REFRESH_INTERVAL: "600" };
const valid = execFileSync(CLI, ["mint", "--sub", "alice"], { env: { ...process.env, SESSION_KEYS: keys } }).toString().trim();
const at = valid.length - 10;
const cookie = { valid, invalid: valid.slice(0, at) + (valid[at] === "A" ? "B" : "A") + valid.slice(at + 1), missing: null }[kind];

const modules = workerArg.endsWith(".js")
  ? [["worker.js", workerArg]]
  : [["index.js", path.join(workerArg, "index.js")], ["index_bg.wasm", path.join(workerArg, "index_bg.wasm")]];
const inspectorPort = await freePort();
const worker = await startWorker("profile", { modules, bindings: settings, inspectorPort });
const { url } = worker;

const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
const target = targets.find((t) => t.title === "workerd: worker worker") ?? targets[0];
const ws = new WebSocketImpl(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
let nextId = 0;
const waiting = new Map();
ws.onmessage = (m) => {
  const msg = JSON.parse(typeof m.data === "string" ? m.data : m.data.toString());
  waiting.get(msg.id)?.(msg);
  waiting.delete(msg.id);
};
const call = (method, params = {}) => new Promise((resolve) => {
  const id = ++nextId;
  waiting.set(id, resolve);
  ws.send(JSON.stringify({ id, method, params }));
});
const wrk = (s) => {
  const args = ["-t1", "-c16", `-d${s}s`, "-H", `cf-blob: ${CF_BLOB}`];
  if (cookie) args.push("-H", `Cookie: ${COOKIE}=${cookie}`);
  return execFileSync("wrk", [...args, `${url}/bench`]).toString();
};

wrk(2);
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 50 });
await call("Profiler.start");
const rate = wrk(Number(seconds)).split("\n").find((l) => l.startsWith("Requests/sec"));
const { result } = await call("Profiler.stop");
ws.close();
worker.stop();
fs.writeFileSync(out, JSON.stringify(result.profile));

// Self and inclusive samples per function (a recursive function counts once
// per sample in the inclusive column).
const profile = result.profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => n.callFrame.functionName || "(anonymous)";
const self = new Map();
const inclusive = new Map();
for (const id of profile.samples) {
  const leaf = name(byId.get(id));
  self.set(leaf, (self.get(leaf) ?? 0) + 1);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = name(byId.get(cur));
    if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
    seen.add(k);
  }
}
const total = profile.samples.length;
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k.replace(/::h[0-9a-f]{16}$/, "").slice(0, 140)}`);
console.log(`${workerArg} ${kind}: ${total} samples, ${rate ?? "?"}; profile in ${out}`);
console.log("\nself:\n" + top(self, 30).join("\n"));
console.log("\ninclusive:\n" + top(inclusive, 40).join("\n"));
process.exit(0);
