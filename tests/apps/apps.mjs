// The real-apps suite (issue 10 item 5): apps installed from PyPI into a
// virtualenv (tests/apps/requirements.txt, every package pinned), each run
// unchanged on a loopback port behind the real built worker under
// `wrangler dev` in ORIGIN_URL mode, and driven with Debian's Chromium.
//
// The virtualenv is cached outside the checkout, in
// $SESSION_GATE_CACHE/apps-venv/<hash of requirements.txt and the python
// version> ($SESSION_GATE_CACHE defaults to $XDG_CACHE_HOME/session-gate, or
// ~/.cache/session-gate), so a warm run installs nothing, a fresh clone
// included (CI clones afresh every run; the install took 95 s there). When
// it is missing and PyPI cannot be reached, the suite is skipped with a
// message saying so; any other failure (an install error included) fails.
import { spawn, execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startGate, keygen, freePort, ROOT } from "../e2e/harness.mjs";
import { launchBrowser, COOKIE } from "../browser/stack.mjs";

export { launchBrowser, COOKIE };
const run = promisify(execFile);
const HERE = path.join(ROOT, "tests", "apps");
const REQUIREMENTS = path.join(HERE, "requirements.txt");
const CACHE = path.join(
  process.env.SESSION_GATE_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "session-gate"),
  "apps-venv",
);

/** The python of the cached virtualenv, installing it first when needed: { python } or { skip }. */
let venvPromise;
export function venv() {
  venvPromise ??= ensureVenv();
  return venvPromise;
}

async function ensureVenv() {
  // The python's version is part of the key: a virtualenv made by another
  // python (the system's was upgraded) is not reused. Without a python3 the
  // probe below fails and says so.
  const version = await run("python3", ["-c", "import sys; print(sys.version)"]).then((r) => r.stdout, () => "");
  const hash = createHash("sha256").update(fs.readFileSync(REQUIREMENTS)).update(version).digest("hex").slice(0, 16);
  const dir = path.join(CACHE, hash);
  const python = path.join(dir, "bin", "python");
  const done = path.join(dir, ".installed");
  if (fs.existsSync(done)) return { python, dir };
  // Cold: PyPI must be reachable (through the machine's own pip settings),
  // or there is nothing to test with.
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), "session-gate-pypi-"));
  try {
    await run("python3", ["-m", "pip", "download", "--no-deps", "--no-cache-dir", "six", "-d", probe],
      { env: { ...process.env, PIP_FIND_LINKS: "" }, timeout: 120_000 });
  } catch (e) {
    return { skip: `tests/apps skipped: PyPI cannot be reached (pip download six failed: ${String(e.stderr || e.message).trim().split("\n").pop()})` };
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
  // One installer at a time (suites run in parallel with --test-concurrency
  // above 1, and checkouts share the cache): the others wait for it to
  // finish. A lock older than the install's own timeout was left by a killed
  // run.
  fs.mkdirSync(CACHE, { recursive: true });
  const LOCK = `${dir}.lock`;
  for (;;) {
    try {
      fs.closeSync(fs.openSync(LOCK, "wx"));
      break;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      if (Date.now() - (fs.statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 900_000) fs.rmSync(LOCK, { force: true });
      await new Promise((r) => setTimeout(r, 1000));
      if (fs.existsSync(done)) return { python, dir };
    }
  }
  try {
    if (fs.existsSync(done)) return { python, dir };
    // What a killed install left is removed. Virtualenvs for other
    // requirements stay: another checkout may be using one.
    fs.rmSync(dir, { recursive: true, force: true });
    const started = Date.now();
    process.stderr.write(`tests/apps: installing ${path.relative(ROOT, REQUIREMENTS)} into ${dir}\n`);
    await run("python3", ["-m", "venv", dir]);
    await run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS],
      { maxBuffer: 64 << 20, timeout: 900_000 });
    fs.writeFileSync(done, `${new Date().toISOString()}\n`);
    process.stderr.write(`tests/apps: installed in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return { python, dir };
  } finally {
    fs.rmSync(LOCK, { force: true });
  }
}

/**
 * Runs `args` with the virtualenv's python in `cwd` until `ready(output)`
 * is true (or throws after `ms`). Returns { output, stop }.
 */
export async function startApp(python, args, { cwd, env = {}, ready, ms = 60_000, name = "app" }) {
  const child = spawn(python, args, {
    cwd,
    env: { ...process.env, PYTHONUNBUFFERED: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout.on("data", (c) => { output += c; });
  child.stderr.on("data", (c) => { output += c; });
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited early:\n${output}`);
    if (await ready(output)) break;
    if (Date.now() > deadline) {
      process.kill(-child.pid, "SIGKILL");
      throw new Error(`${name} did not start within ${ms} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.on("exit", resolve));
      // The app's own group: a kernel or a worker it started ends too.
      process.kill(-child.pid, "SIGTERM");
      const timer = setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ } }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** True once `url` answers at all (any status). */
export async function answers(url) {
  try {
    const res = await fetch(url, { redirect: "manual" });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/**
 * The gate in ORIGIN_URL mode in front of `originUrl`, with nothing set but
 * the key ring: the settings a new user starts with.
 */
export async function startAppGate(name, originUrl, vars = {}) {
  return startGate({ name, vars: { ORIGIN_URL: originUrl, ...vars }, secrets: { SESSION_KEYS: await keygen("k1") } });
}

/**
 * A browser context holding a gate session for `sub`, minted with the CLI
 * (the apps know nothing of session-gate; they have their own sign-in, or none).
 */
export async function gateContext(browser, gate, sub = "alice") {
  const value = await gate.mint({ sub });
  const context = await browser.newContext();
  // Host-only (a domain without a leading dot), as the gate sets it; with
  // `url:` playwright would drop Secure on http, which `__Host-` needs.
  await context.addCookies([{ name: COOKIE, value, domain: new URL(gate.url).hostname, path: "/", secure: true, httpOnly: true, sameSite: "Lax" }]);
  return context;
}

/** A fresh temporary directory for an app's files. */
export function tempDir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `session-gate-app-${name}-`));
}

export { freePort };
