// The Worker's default export (scripts/esbuild-entry.mjs): a plain module
// handler that keeps worker-build's reinitialisation after a crash. The entry
// template the build bundled (target/entry-shim.mjs, written by `make build`)
// is loaded here with stand-ins for its two imports: the wasm-bindgen module
// (whose `fetch`, `__worker_init_state` and `__wbg_reset_state` each test
// drives) and `cloudflare:workers`.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

import { LEAN_EXPORT, WORKER_BUILD_EXPORT, rewrite } from "../../scripts/esbuild-entry.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SHIM = path.join(ROOT, "target", "entry-shim.mjs");

// What the shim's imports resolve to. `globalThis.entryTest` is how each test
// reaches the stand-in module's state.
const FAKE_INDEX = `
const t = (globalThis.entryTest ??= { resets: 0, calls: [], state: { criticalError: false, instanceId: 0 } });
export function __worker_init_state() { return t.state; }
export function __wbg_reset_state() { t.resets++; }
export function fetch(request, env, ctx) { t.calls.push([request, env, ctx]); return t.answer(request, env, ctx); }
export class SessionDirectory { constructor(state, env) { this.state = state; this.env = env; } fetch(r) { return "object:" + r; } }
export class ContainerStartupOptions {}
export class MinifyConfig {}
export class R2Range {}
`;
const FAKE_WORKERS = `
export class WorkerEntrypoint { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }
export class DurableObject {}
`;

/** The bundled entry, loaded afresh with its own stand-ins and error listener. */
async function load() {
  const shim = fs.readFileSync(SHIM, "utf8");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "entry-"));
  fs.writeFileSync(path.join(dir, "fake-index.mjs"), FAKE_INDEX);
  fs.writeFileSync(path.join(dir, "fake-workers.mjs"), FAKE_WORKERS);
  const local = shim.replaceAll('"./index.js"', '"./fake-index.mjs"').replaceAll('"cloudflare:workers"', '"./fake-workers.mjs"');
  assert.notEqual(local, shim, "the template imports ./index.js and cloudflare:workers");
  fs.writeFileSync(path.join(dir, "shim.mjs"), local);
  delete globalThis.entryTest;
  const listeners = [];
  globalThis.addEventListener = (type, listener) => listeners.push([type, listener]);
  try {
    const module = await import(pathToFileURL(path.join(dir, "shim.mjs")).href);
    return { module, t: globalThis.entryTest, listeners };
  } finally {
    delete globalThis.addEventListener;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("the bundled entry is the rewritten template, and the export a plain handler", async () => {
  const shim = fs.readFileSync(SHIM, "utf8");
  assert.ok(shim.includes(LEAN_EXPORT));
  assert.ok(!shim.includes(WORKER_BUILD_EXPORT));
  const { module, t } = await load();
  assert.equal(Object.getPrototypeOf(module.default), Object.prototype);
  assert.deepEqual(Object.keys(module.default), ["fetch"]);
  t.answer = (request) => `answer:${request}`;
  assert.equal(module.default.fetch("req", "env", "ctx"), "answer:req");
  assert.deepEqual(t.calls, [["req", "env", "ctx"]]);
  assert.equal(t.resets, 0);
  // The Durable Object class keeps worker-build's export.
  const object = new module.SessionDirectory("state", "env");
  assert.equal(object.fetch("r"), "object:r");
});

test("a trap in the module reinitialises it before the next request", async () => {
  const { module, t } = await load();
  t.answer = () => {
    throw new WebAssembly.RuntimeError("unreachable");
  };
  assert.throws(() => module.default.fetch("a", "env", "ctx"), WebAssembly.RuntimeError);
  assert.equal(t.state.criticalError, true);
  assert.equal(t.resets, 0, "reinitialised on the next call, not during the failing one");
  t.answer = () => "after";
  assert.equal(module.default.fetch("b", "env", "ctx"), "after");
  assert.equal(t.resets, 1);
  assert.equal(t.state.criticalError, false);
  assert.equal(t.state.instanceId, 1);
  assert.equal(module.default.fetch("c", "env", "ctx"), "after");
  assert.equal(t.resets, 1, "once only");
});

test("an ordinary error is rethrown and does not reinitialise", async () => {
  const { module, t } = await load();
  t.answer = () => {
    throw new TypeError("not a trap");
  };
  assert.throws(() => module.default.fetch("a", "env", "ctx"), TypeError);
  assert.equal(t.state.criticalError, false);
  t.answer = () => "fine";
  assert.equal(module.default.fetch("b", "env", "ctx"), "fine");
  assert.equal(t.resets, 0);
});

test("a trap reported to the global error listener (an async one) reinitialises too", async () => {
  const { module, t, listeners } = await load();
  const onError = listeners.filter(([type]) => type === "error").map(([, l]) => l);
  assert.equal(onError.length, 1);
  onError[0]({ error: new WebAssembly.RuntimeError("unreachable") });
  t.answer = () => "after";
  assert.equal(module.default.fetch("a", "env", "ctx"), "after");
  assert.equal(t.resets, 1);
});

test("the rewrite refuses a template it does not know", () => {
  const template = `function checkReinitialize() {}\nfunction handleMaybeCritical(e) {}\nEntrypoint.prototype.fetch = function fetch(arg) {};\n${WORKER_BUILD_EXPORT}\n`;
  assert.ok(rewrite(template).includes(LEAN_EXPORT));
  assert.throws(() => rewrite(template.replace(WORKER_BUILD_EXPORT, "export default Entrypoint;")), /exactly once/);
  assert.throws(() => rewrite(template + WORKER_BUILD_EXPORT), /exactly once/);
  assert.throws(() => rewrite(template.replace("function handleMaybeCritical(e) {}", "")), /handleMaybeCritical/);
});
