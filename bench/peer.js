// The JavaScript peer: the Worker a user would write instead of session-gate,
// with WebCrypto. It validates the same cookie (SPEC section 2:
// v1.<kid>.<payload>.<tag>, HMAC-SHA256 over
// "session-gate/v1\0<COOKIE_NAME>\0<kid>\0<payload>", canonical JSON claims,
// idle and absolute timeouts, clock skew), reads the same KV keys (user:<sub>,
// sid:<sid>) through the same 10-second isolate cache, forwards with the same
// identity headers, refreshes the cookie when due, answers 401 JSON without a
// valid session and logs one JSON line per request. It is written to be
// fast: keys are imported once per isolate, the two KV reads run in parallel.
//
// It does less than the gate (no path normalisation, URL scrubbing, CSRF
// check, origin handshake or identity-header folding), so the comparison
// favours the peer.
const LABEL = "session-gate/v1";
const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });
const SETTINGS = [
  "SESSION_KEYS", "ORIGIN_URL", "COOKIE_NAME", "IDLE_TIMEOUT", "ABSOLUTE_TIMEOUT",
  "REFRESH_INTERVAL", "CLOCK_SKEW", "REVOCATION_CACHE", "REFERRER_POLICY",
];
const KID = /^[A-Za-z0-9_-]{1,16}$/;
const TAG = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const SID = /^[A-Za-z0-9_-]{21}[AQgw]$/;
const ROLE = /^[A-Za-z0-9_.:-]{1,64}$/;
// Control, format and other invisible characters are refused in `sub`.
const BAD_SUB = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

let config = null;
const cache = new Map();

function b64urlDecode(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function b64urlEncode(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function seconds(value, fallback) {
  return value === undefined || value === "" ? fallback : Number(value);
}

async function settings(env) {
  const fingerprint = SETTINGS.map((n) => env[n]).join("\u0000");
  if (config && config.fingerprint === fingerprint) return config;
  const keys = new Map();
  let signer = null;
  for (const entry of String(env.SESSION_KEYS).split(",")) {
    const [kid, encoded] = entry.trim().split(":");
    const key = await crypto.subtle.importKey(
      "raw", b64urlDecode(encoded), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(kid, key);
    signer ??= { kid, key };
  }
  config = {
    fingerprint,
    keys,
    signer,
    origin: env.ORIGIN_URL,
    cookieName: env.COOKIE_NAME || "__Host-session",
    idleMs: seconds(env.IDLE_TIMEOUT, 1800) * 1000,
    absoluteMs: seconds(env.ABSOLUTE_TIMEOUT, 43200) * 1000,
    refreshMs: seconds(env.REFRESH_INTERVAL, 60) * 1000,
    skewMs: seconds(env.CLOCK_SKEW, 60) * 1000,
    cacheMs: seconds(env.REVOCATION_CACHE, 10) * 1000,
    referrerPolicy: env.REFERRER_POLICY || "strict-origin-when-cross-origin",
  };
  return config;
}

function macInput(cfg, kid, payload) {
  return encoder.encode(`${LABEL}\u0000${cfg.cookieName}\u0000${kid}\u0000${payload}`);
}

/** The one cookie named `name` across the Cookie header, or why not. */
function findCookie(header, name) {
  if (!header) return { reason: "missing" };
  let found;
  for (const pair of header.split(";")) {
    const trimmed = pair.trim();
    const eq = trimmed.indexOf("=");
    const pairName = eq < 0 ? trimmed : trimmed.slice(0, eq);
    if (pairName !== name) continue;
    if (found !== undefined) return { reason: "invalid" };
    found = eq < 0 ? "" : trimmed.slice(eq + 1);
  }
  return found === undefined ? { reason: "missing" } : { value: found };
}

function validClaims(json, claims) {
  if (claims === null || typeof claims !== "object" || Array.isArray(claims)) return false;
  const { sid, sub, iat, seen, roles } = claims;
  const fields = Object.keys(claims).length;
  if (fields !== (roles === undefined ? 4 : 5)) return false;
  if (typeof sid !== "string" || !SID.test(sid)) return false;
  if (typeof sub !== "string" || sub.length === 0 || encoder.encode(sub).length > 256 || BAD_SUB.test(sub)) return false;
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(seen) || iat < 0 || seen < 0) return false;
  if (roles !== undefined) {
    if (!Array.isArray(roles) || roles.length < 1 || roles.length > 32) return false;
    for (let i = 0; i < roles.length; i++) {
      if (typeof roles[i] !== "string" || !ROLE.test(roles[i])) return false;
      if (i > 0 && !(roles[i - 1] < roles[i])) return false;
    }
  }
  // Canonical form: exactly the bytes the gate would have signed.
  const canonical = roles === undefined ? { sid, sub, iat, seen } : { sid, sub, iat, seen, roles };
  return JSON.stringify(canonical) === json;
}

/** Parses, verifies and times a cookie value. */
async function checkCookie(cfg, value, now) {
  if (value.length > 4096) return { reason: "invalid" };
  const parts = value.split(".");
  if (parts.length !== 4 || parts[0] !== "v1" || !KID.test(parts[1]) || parts[2] === "" || !TAG.test(parts[3])) {
    return { reason: "invalid" };
  }
  const [, kid, payload, tag] = parts;
  const key = cfg.keys.get(kid);
  if (!key) return { reason: "invalid" };
  const ok = await crypto.subtle.verify("HMAC", key, b64urlDecode(tag), macInput(cfg, kid, payload));
  if (!ok) return { reason: "invalid" };
  let json;
  let claims;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(payload) || payload.length % 4 === 1) return { reason: "invalid" };
    json = utf8.decode(b64urlDecode(payload));
    claims = JSON.parse(json);
  } catch {
    return { reason: "invalid" };
  }
  if (!validClaims(json, claims) || b64urlEncode(encoder.encode(json)) !== payload) return { reason: "invalid" };
  const { iat, seen } = claims;
  const latest = now + cfg.skewMs;
  if (iat > latest || seen < iat || seen > latest) return { reason: "invalid" };
  if (now - iat > cfg.absoluteMs || now - seen > cfg.idleMs) return { reason: "expired" };
  return { kid, claims, refreshDue: now - seen > cfg.refreshMs };
}

async function kvRead(kv, key, now, ttlMs) {
  const hit = cache.get(key);
  if (hit && now - hit.at < ttlMs && hit.at <= now) return hit.value;
  const value = await kv.get(key, { cacheTtl: 30 });
  if (cache.size >= 4096) cache.clear();
  cache.set(key, { value, at: now });
  return value;
}

async function fingerprint(sid) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(sid)));
  let hex = "";
  for (let i = 0; i < 16; i++) hex += digest[i].toString(16).padStart(2, "0");
  return hex;
}

function headerSafe(sub) {
  let out = "";
  for (const b of encoder.encode(sub)) {
    out += b > 0x20 && b < 0x7f && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function setCookie(name, value, maxAge) {
  return `${name}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${maxAge}`;
}

function deny(cfg, reason, log) {
  log.event = "deny";
  log.reason = reason;
  log.status = 401;
  const headers = { "content-type": "application/json", "cache-control": "no-store" };
  if (reason !== "missing") headers["set-cookie"] = setCookie(cfg.cookieName, "", 0);
  return new Response(JSON.stringify({ error: "unauthenticated", reason }), { status: 401, headers });
}

async function handle(request, env, log) {
  const cfg = await settings(env);
  const now = Date.now();
  const url = new URL(request.url);
  log.method = request.method;
  log.path = url.pathname;
  const found = findCookie(request.headers.get("cookie"), cfg.cookieName);
  if (found.reason) return deny(cfg, found.reason, log);
  const session = await checkCookie(cfg, found.value, now);
  if (session.reason) return deny(cfg, session.reason, log);
  const { claims } = session;
  let user;
  let sid;
  try {
    [user, sid] = await Promise.all([
      kvRead(env.REVOCATIONS, `user:${claims.sub}`, now, cfg.cacheMs),
      kvRead(env.REVOCATIONS, `sid:${claims.sid}`, now, cfg.cacheMs),
    ]);
  } catch {
    log.event = "kv_failure";
    log.status = 503;
    return new Response("Service Unavailable\n", { status: 503, headers: { "retry-after": "5" } });
  }
  if (user !== null && !/^\d{1,20}$/.test(user.trim())) {
    log.event = "kv_failure";
    log.status = 503;
    return new Response("Service Unavailable\n", { status: 503, headers: { "retry-after": "5" } });
  }
  if ((user !== null && claims.iat < Number(user.trim())) || sid !== null) return deny(cfg, "revoked", log);

  const headers = new Headers(request.headers);
  for (const name of [...headers.keys()]) {
    if (name.replace(/[_.]/g, "-").startsWith("x-session-")) headers.delete(name);
  }
  const others = request.headers.get("cookie").split(";").map((p) => p.trim())
    .filter((p) => p && p.split("=")[0].trim().toLowerCase() !== cfg.cookieName.toLowerCase());
  if (others.length) headers.set("cookie", others.join("; "));
  else headers.delete("cookie");
  const id = await fingerprint(claims.sid);
  headers.set("x-session-user", headerSafe(claims.sub));
  headers.set("x-session-id", id);
  headers.set("x-session-issued-at", String(claims.iat));
  const upstream = await fetch(cfg.origin + url.pathname + url.search, {
    method: request.method,
    headers,
    body: request.body,
    redirect: "manual",
  });
  const response = new Response(upstream.body, upstream);
  if (!response.headers.has("referrer-policy")) response.headers.set("referrer-policy", cfg.referrerPolicy);
  if (session.refreshDue) {
    const fresh = { ...claims, seen: Math.max(now, claims.seen) };
    const payload = b64urlEncode(encoder.encode(JSON.stringify(fresh)));
    const tag = new Uint8Array(await crypto.subtle.sign("HMAC", cfg.signer.key, macInput(cfg, cfg.signer.kid, payload)));
    const maxAge = Math.floor((claims.iat + cfg.absoluteMs - now) / 1000);
    response.headers.append("set-cookie", setCookie(cfg.cookieName, `v1.${cfg.signer.kid}.${payload}.${b64urlEncode(tag)}`, maxAge));
  }
  log.event = "forward";
  log.fingerprint = id;
  log.sub = claims.sub;
  log.status = upstream.status;
  return response;
}

export default {
  async fetch(request, env) {
    const log = { event: "", method: "", path: "", status: 0 };
    const response = await handle(request, env, log);
    // The same log line as the gate's, colo and country included.
    log.colo = request.cf?.colo;
    log.country = request.cf?.country;
    console.log(JSON.stringify(log));
    return response;
  },
};
