// An in-memory Workers KV namespace for the benchmark's workerd: it speaks
// the HTTP protocol workerd's `kvNamespace` binding uses (the one
// miniflare's KV service implements: GET/PUT/DELETE /<key>?urlencoded=true),
// without miniflare's SQLite storage, so a KV read costs the workers under
// test as little as the runtime allows. Keys in SEED (JSON) exist at start.
const store = new Map();
let seeded = false;

function keyOf(url) {
  const raw = url.pathname.slice(1);
  return url.searchParams.get("urlencoded") === "true" ? decodeURIComponent(raw) : raw;
}

export default {
  async fetch(request, env) {
    if (!seeded) {
      for (const [k, v] of Object.entries(JSON.parse(env.SEED || "{}"))) store.set(k, v);
      seeded = true;
    }
    const url = new URL(request.url);
    const key = keyOf(url);
    switch (request.method) {
      case "GET": {
        const value = store.get(key);
        return value === undefined ? new Response("Not Found", { status: 404 }) : new Response(value);
      }
      case "PUT":
        store.set(key, await request.text());
        return new Response(null);
      case "DELETE":
        store.delete(key);
        return new Response(null);
      default:
        return new Response("Method Not Allowed", { status: 405 });
    }
  },
};
