// The gate (build/index.js) with a counter on its Durable Object calls, for
// `make bench` (bench/bound.mjs): every `fetch` the gate sends to a
// `SESSIONS` stub is counted on the caller's side, and
// GET /__bench/directory-calls answers the count. Nothing else changes: the
// gate gets the same env, with `SESSIONS` wrapped. Never deployed.
import Gate, { SessionDirectory } from "../build/index.js";

export { SessionDirectory };

let calls = 0;

function counting(env) {
  const namespace = env.SESSIONS;
  if (!namespace) return env;
  const wrapped = {
    idFromName: (name) => namespace.idFromName(name),
    get: (id) => {
      const stub = namespace.get(id);
      return {
        fetch: (...args) => {
          calls += 1;
          return stub.fetch(...args);
        },
      };
    },
  };
  return new Proxy(env, { get: (target, key) => (key === "SESSIONS" ? wrapped : Reflect.get(target, key)) });
}

export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__bench/directory-calls") {
      return new Response(String(calls), { headers: { "cache-control": "no-store" } });
    }
    // The gate's default export is a plain module handler
    // (scripts/esbuild-entry.mjs).
    return Gate.fetch(request, counting(env), ctx);
  },
};
