// The minimal peer: the least a JavaScript Worker can do and still honour
// /work/shared/SPEC.md's cookie, written from the SPEC alone (not from the gate
// or bench/peer.js). It checks the cookie of section 2 (strict `v1.kid.payload.tag`,
// HMAC-SHA256 over `session-gate/v1\0<name>\0<kid>\0<payload>` with WebCrypto,
// canonical claims, skew, idle and absolute timeouts), reads the two revocation
// keys of section 3 (in parallel, through a REVOCATION_CACHE-second isolate
// cache), forwards with the identity headers of section 5.8 (X-Session-User,
// X-Session-Id, X-Session-Issued-At) and returns the origin's response as is.
// It answers 401 JSON as section 5.6 says and writes the one JSON log line of
// section 5.10. Nothing else: no path normalisation, URL or Referer scrubbing,
// identity-header deletion, CSRF, handshake, refresh cookie or 302 for page loads.
const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });
let ring = null; // [settings text, Map kid -> CryptoKey]
const cache = new Map(); // KV key -> [expires at, value]

function b64url(s) {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return null;
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function toB64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function keys(env) {
  if (ring && ring[0] === env.SESSION_KEYS) return ring[1];
  const map = new Map();
  for (const entry of env.SESSION_KEYS.split(",")) {
    const [kid, key] = entry.split(":");
    map.set(kid, await crypto.subtle.importKey("raw", b64url(key), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]));
  }
  ring = [env.SESSION_KEYS, map];
  return map;
}

async function kvGet(env, key, now, ttl) {
  const hit = cache.get(key);
  if (hit && hit[0] > now) return hit[1];
  const value = await env.REVOCATIONS.get(key);
  cache.set(key, [now + ttl, value]);
  return value;
}

function cookieValue(header, name) {
  let found = null;
  for (const part of header.split(/[;,]/)) {
    const i = part.indexOf("=");
    if (i < 0 || part.slice(0, i).trim() !== name) continue;
    if (found !== null) return undefined; // more than one: invalid
    found = part.slice(i + 1).trim();
  }
  return found;
}

// The session's claims, or the reason it is not valid.
async function check(request, env, now) {
  const name = env.COOKIE_NAME ?? "__Host-session";
  const value = cookieValue(request.headers.get("cookie") ?? "", name);
  if (value === null) return "missing";
  if (value === undefined) return "invalid";
  const parts = value.split(".");
  if (parts.length !== 4 || parts[0] !== "v1" || parts[3].length !== 43) return "invalid";
  const key = (await keys(env)).get(parts[1]);
  const tag = b64url(parts[3]);
  if (!key || !tag || toB64url(tag) !== parts[3]) return "invalid";
  const signed = enc.encode(`session-gate/v1\0${name}\0${parts[1]}\0${parts[2]}`);
  if (!(await crypto.subtle.verify("HMAC", key, tag, signed))) return "invalid";
  let claims;
  try {
    const raw = b64url(parts[2]);
    if (!raw || toB64url(raw) !== parts[2]) return "invalid";
    claims = JSON.parse(dec.decode(raw));
  } catch {
    return "invalid";
  }
  const { sid, sub, iat, seen, roles } = claims ?? {};
  const canonical = JSON.stringify(roles === undefined ? { sid, sub, iat, seen } : { sid, sub, iat, seen, roles });
  if (dec.decode(b64url(parts[2])) !== canonical || typeof sid !== "string" || typeof sub !== "string") return "invalid";
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(seen)) return "invalid";
  const skew = Number(env.CLOCK_SKEW ?? 60) * 1000;
  if (iat > now + skew || seen < iat || seen > now + skew) return "invalid";
  if (now - iat > Number(env.ABSOLUTE_TIMEOUT ?? 43200) * 1000 || now - seen > Number(env.IDLE_TIMEOUT ?? 1800) * 1000) return "expired";
  const ttl = Number(env.REVOCATION_CACHE ?? 10) * 1000;
  const [epoch, revoked] = await Promise.all([kvGet(env, `user:${sub}`, now, ttl), kvGet(env, `sid:${sid}`, now, ttl)]);
  if (epoch !== null && !/^\d+$/.test(epoch)) throw new Error("malformed revocation epoch");
  if (revoked !== null || (epoch !== null && iat < Number(epoch))) return "revoked";
  return claims;
}

export default {
  async fetch(request, env) {
    const now = Date.now();
    const url = new URL(request.url);
    const result = await check(request, env, now);
    const cf = request.cf ?? {};
    if (typeof result === "string") {
      console.log(JSON.stringify({ event: "deny", reason: result, method: request.method, path: url.pathname, colo: cf.colo, country: cf.country }));
      return new Response(JSON.stringify({ error: "unauthenticated", reason: result }), {
        status: 401,
        headers: { "content-type": "application/json", "cache-control": "no-store" },
      });
    }
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(result.sid)));
    const fingerprint = Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
    const headers = new Headers(request.headers);
    headers.set("x-session-user", result.sub);
    headers.set("x-session-id", fingerprint);
    headers.set("x-session-issued-at", String(result.iat));
    console.log(JSON.stringify({ event: "allow", fingerprint, sub: result.sub, method: request.method, path: url.pathname, colo: cf.colo, country: cf.country }));
    return fetch(new Request(env.ORIGIN_URL + url.pathname + url.search, { method: request.method, headers, body: request.body, redirect: "manual" }));
  },
};
