// Helpers of the end-to-end benchmark (bench/run.mjs): the loopback origin,
// one workerd process per Worker, wrk, and /proc readings.
import { spawn, execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BENCH = path.join(ROOT, "bench");
export const WORKERD = path.join(ROOT, "node_modules", "@cloudflare", "workerd-linux-64", "bin", "workerd");
export const ORIGIN_BIN = path.join(ROOT, "target", "release", "examples", "bench_origin");
export const CLI = path.join(ROOT, "target", "release", "session-gate");

const env = (name, fallback) => Number(process.env[name] ?? fallback);
export const SECONDS = env("BENCH_SECONDS", 1);
export const WARMUP = env("BENCH_WARMUP", 1);
export const ROUNDS = env("BENCH_ROUNDS", 60);
export const CONNECTIONS = env("BENCH_CONNECTIONS", 16);
export const MIXED = env("BENCH_MIXED_REQUESTS", 200000);
export const MIXED_CHUNK = 5;
export const OUT = process.env.BENCH_OUT ?? path.join(BENCH, "results.md");
export const WORKERS = process.env.BENCH_WORKERS?.split(","); // time only these (gate, gate-aa always)
export const KINDS = process.env.BENCH_KINDS?.split(","); // valid,invalid,missing
export const ONLY = process.env.BENCH_ONLY;
// BENCH_TOGETHER=1: every timed worker under load at once in each cell
// (bench/run.mjs, measureTogether); 0: one after the other.
export const TOGETHER = process.env.BENCH_TOGETHER !== "0"; // e.g. "e2e" or "size" while iterating
// BENCH_NO_CF=1: timed requests carry no cf blob (request.cf is then
// undefined, as under plain workerd); by default they carry one, as on the edge.
export const NO_CF = process.env.BENCH_NO_CF === "1";
export const CF_BLOB = JSON.stringify({ colo: "LHR", country: "GB" });
export const COOKIE = "__Host-session";
export const TICKS = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

export const log = (...a) => console.error("[bench]", ...a);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const children = [];
function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
}
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));

export async function startOrigin() {
  const child = spawn(ORIGIN_BIN, ["0"], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const port = await new Promise((resolve, reject) => {
    child.stdout.once("data", (d) => resolve(Number(/listening (\d+)/.exec(d.toString())[1])));
    child.once("exit", () => reject(new Error("origin exited")));
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async stats() {
      return (await fetch(`http://127.0.0.1:${port}/__stats`)).json();
    },
  };
}

const capnpText = (s) => JSON.stringify(String(s));

/**
 * Writes a workerd config for one worker and starts workerd on it; with
 * `inspectorPort`, workerd's inspector listens there (bench/profile.mjs).
 */
export async function startWorker(name, { modules, bindings, inspectorPort }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `session-gate-bench-${name}-`));
  for (const [file, src] of modules) fs.copyFileSync(src, path.join(dir, file));
  fs.copyFileSync(path.join(BENCH, "kv.js"), path.join(dir, "kv.js"));
  const port = await freePort();
  const moduleLines = modules.map(([file]) =>
    file.endsWith(".wasm")
      ? `(name = ${capnpText(file)}, wasm = embed ${capnpText(file)})`
      : `(name = ${capnpText(file)}, esModule = embed ${capnpText(file)})`,
  );
  const bindingLines = Object.entries(bindings).map(([k, v]) => `(name = ${capnpText(k)}, text = ${capnpText(v)})`);
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "worker", worker = (
      modules = [${moduleLines.join(", ")}],
      compatibilityDate = "2025-09-01",
      bindings = [(name = "REVOCATIONS", kvNamespace = "kv"), ${bindingLines.join(", ")}],
      globalOutbound = "loopback",
    )),
    (name = "kv", worker = (
      modules = [(name = "kv.js", esModule = embed "kv.js")],
      compatibilityDate = "2025-09-01",
      bindings = [(name = "SEED", text = ${capnpText(JSON.stringify({ "user:alice": "1" }))})],
    )),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (cfBlobHeader = "cf-blob"), service = "worker")],
);
`;
  fs.writeFileSync(path.join(dir, "config.capnp"), config);
  const out = fs.openSync(path.join(dir, "stdout.log"), "w");
  const started = process.hrtime.bigint();
  const inspector = inspectorPort ? [`--inspector-addr=127.0.0.1:${inspectorPort}`] : [];
  const child = spawn(WORKERD, ["serve", ...inspector, path.join(dir, "config.capnp")], { stdio: ["ignore", out, out] });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name}: workerd exited:\n${fs.readFileSync(path.join(dir, "stdout.log"), "utf8")}`);
    try {
      const res = await fetch(`${url}/ready`, { headers: { "cf-blob": CF_BLOB } });
      await res.arrayBuffer();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${name}: workerd did not start`);
      await sleep(50);
    }
  }
  const firstResponseMs = Number(process.hrtime.bigint() - started) / 1e6;
  return {
    name,
    url,
    pid: child.pid,
    dir,
    firstResponseMs,
    logFile: path.join(dir, "stdout.log"),
    stop() {
      child.kill("SIGTERM");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** user+system CPU ticks of a process (all threads). */
export function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * CPU time of a process in nanoseconds: the sum over its threads of the
 * scheduler's run time (`/proc/<pid>/task/<tid>/schedstat`, first field),
 * nanosecond-exact where `/proc/<pid>/stat`'s utime+stime count 10 ms ticks
 * (a 1-second cell at half a core is only about 50 ticks, ±2% from rounding
 * alone). Falls back to the ticks when schedstat is absent.
 */
export function cpuNs(pid) {
  try {
    let ns = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    }
    return ns;
  } catch {
    return (cpuTicks(pid) / TICKS) * 1e9;
  }
}

export function memory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)[1]);
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

export function runWrk(url, { seconds, headers = {}, script = "report.lua", extraEnv = {}, connections = CONNECTIONS }) {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "5s", "-s", path.join(BENCH, script)];
  for (const [k, v] of Object.entries({ ...(NO_CF ? {} : { "cf-blob": CF_BLOB }), ...headers })) args.push("-H", `${k}: ${v}`);
  args.push(`${url}/bench`);
  const out = execFileSync("wrk", args, { env: { ...process.env, ...extraEnv }, maxBuffer: 1 << 20 }).toString();
  const line = out.split("\n").find((l) => l.startsWith("BENCH "));
  if (!line) throw new Error(`wrk printed no result:\n${out}`);
  return JSON.parse(line.slice(6));
}

function wrkArgs(url, { seconds, headers = {}, script = "report.lua", connections = CONNECTIONS }) {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "5s", "-s", path.join(BENCH, script)];
  for (const [k, v] of Object.entries({ ...(NO_CF ? {} : { "cf-blob": CF_BLOB }), ...headers })) args.push("-H", `${k}: ${v}`);
  args.push(`${url}/bench`);
  return args;
}

function wrkResult(out) {
  const line = out.split("\n").find((l) => l.startsWith("BENCH "));
  if (!line) throw new Error(`wrk printed no result:\n${out}`);
  return JSON.parse(line.slice(6));
}

function sample(r, ns) {
  return {
    rps: r.requests / (r.duration_us / 1e6),
    p50: r.p50_us / 1000,
    p99: r.p99_us / 1000,
    cpuUs: ns / 1e3 / r.requests,
    requests: r.requests,
    errors: r.connect + r.read + r.write + r.timeout,
    non2xx: r.status,
  };
}

/**
 * Loads every worker at once, each with its own wrk, for `seconds`, and
 * measures each worker's CPU time over the same interval: the workers share
 * the machine's state (the other tenants' load, the CPU's clocks and caches)
 * instead of meeting it a few seconds apart. CPU per request is then a
 * same-moment comparison; throughput and latency are each worker's share of
 * a machine they all load together.
 */
export async function measureTogether(workers, cookie, seconds) {
  const headers = cookie ? { Cookie: `${COOKIE}=${cookie}` } : {};
  const before = workers.map((w) => cpuNs(w.pid));
  const outs = await Promise.all(workers.map((w) => new Promise((resolve, reject) => {
    execFile("wrk", wrkArgs(w.url, { seconds, headers }), { maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  })));
  const after = workers.map((w) => cpuNs(w.pid));
  return outs.map((out, i) => sample(wrkResult(out), after[i] - before[i]));
}

/** Runs wrk against a worker and measures the worker's CPU time. */
export function measure(worker, cookie, seconds) {
  const headers = cookie ? { Cookie: `${COOKIE}=${cookie}` } : {};
  const before = cpuNs(worker.pid);
  const r = runWrk(worker.url, { seconds, headers });
  const ns = cpuNs(worker.pid) - before;
  return sample(r, ns);
}

