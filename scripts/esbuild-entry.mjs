#!/usr/bin/env node
// worker-build's bundling step, with session-gate's own default export.
//
// scripts/build.sh names this file as worker-build's esbuild (ESBUILD_BIN).
// worker-build writes its entry template (shim.js) and calls esbuild once to
// bundle it; this script rewrites one statement of that template, then runs
// the real esbuild (node_modules/.bin/esbuild) with worker-build's own
// arguments, so the bundle is built exactly as before otherwise.
//
// The statement: worker-build 0.8.7 exports `new Proxy(Entrypoint,
// classProxyHooks)`, a Proxy around a WorkerEntrypoint class. workerd builds
// the entrypoint for every request, so every request paid for the class
// Proxy's `construct`, a second Proxy around the instance (with its handler
// object copied from twelve hooks), a `get` and a third Proxy around
// `fetch`. The gate exports a plain module handler instead: the same
// `fetch(request, env, ctx)`, the same reinitialisation after a crash
// (`checkReinitialize` before the call, `handleMaybeCritical` on a throw, as
// the Proxy's hooks do), nothing built per request. BENCHMARKS.md has its
// A/B. The Durable Object class keeps worker-build's Proxy: an object is
// constructed once, not per request.
//
// If the template changes (another worker-build), the statement is not found
// and the build fails here, rather than shipping an entry nobody checked.
// The rewritten template is also kept as target/entry-shim.mjs, which
// tests/e2e/entry.test.mjs loads with stand-ins for its imports to check the
// reinitialisation.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** worker-build 0.8.7's default export, which this replaces. */
export const WORKER_BUILD_EXPORT = "export default new Proxy(Entrypoint, classProxyHooks);";

/** The gate's default export: a module handler over the same hooks. */
export const LEAN_EXPORT = `// session-gate (scripts/esbuild-entry.mjs): a plain module handler, so that
// no Proxy is built per request; the same crash handling as the hooks above.
export default {
  fetch(request, env, ctx) {
    checkReinitialize();
    try {
      return exports.fetch(request, env, ctx);
    } catch (e) {
      handleMaybeCritical(e);
      throw e;
    }
  },
};`;

/**
 * The template with its default export replaced; throws unless worker-build's
 * statement is there exactly once and `fetch` is among its handlers.
 */
export function rewrite(shim) {
  const at = shim.indexOf(WORKER_BUILD_EXPORT);
  if (at < 0 || shim.indexOf(WORKER_BUILD_EXPORT, at + 1) >= 0) {
    throw new Error(`worker-build's shim.js does not have "${WORKER_BUILD_EXPORT}" exactly once: check the worker-build version`);
  }
  for (const needed of ["function checkReinitialize()", "function handleMaybeCritical(", "Entrypoint.prototype.fetch = "]) {
    if (!shim.includes(needed)) throw new Error(`worker-build's shim.js has no "${needed}": check the worker-build version`);
  }
  return shim.slice(0, at) + LEAN_EXPORT + shim.slice(at + WORKER_BUILD_EXPORT.length);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  // worker-build bundles "./shim.js" (relative to its staging directory,
  // the working directory here). Any other call passes straight through.
  if (args.includes("./shim.js")) {
    const shim = rewrite(fs.readFileSync("shim.js", "utf8"));
    fs.writeFileSync("shim.js", shim);
    fs.mkdirSync(path.join(root, "target"), { recursive: true });
    fs.writeFileSync(path.join(root, "target", "entry-shim.mjs"), shim);
  }
  const esbuild = path.join(root, "node_modules", ".bin", "esbuild");
  const run = spawnSync(esbuild, args, { stdio: "inherit" });
  if (run.error) throw run.error;
  process.exit(run.status ?? 1);
}
