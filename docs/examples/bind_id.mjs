// Mints and checks session-gate bound ids in Node.js (no dependencies).
// A bound id is <opaque>.<tag>: tag = base64url of the first 16 bytes of
// HMAC-SHA256(ORIGIN_SECRET, "session-gate/bind/v1" \0 sub \0 opaque).
// Usage as a library:  bindId(secret, sub, opaque) -> "t1055.VOF-ggw9loeRqrsXeG9F2A"
//                      boundOpaque(secret, sub, id) -> "t1055", or null if not sub's
// Usage from a shell:  ORIGIN_SECRET=... node bind_id.mjs SUB OPAQUE
import { createHmac, timingSafeEqual } from "node:crypto";

const OPAQUE = /^[A-Za-z0-9_-]{1,64}$/;

function tag(secret, sub, opaque) {
  return createHmac("sha256", secret).update(`session-gate/bind/v1\0${sub}\0${opaque}`).digest().subarray(0, 16);
}

export function bindId(secret, sub, opaque) {
  if (!OPAQUE.test(opaque)) throw new Error("opaque must be 1 to 64 of [A-Za-z0-9_-]");
  return `${opaque}.${tag(secret, sub, opaque).toString("base64url")}`;
}

export function boundOpaque(secret, sub, id) {
  const m = /^([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{22})$/.exec(String(id));
  if (!m) return null;
  const given = Buffer.from(m[2], "base64url");
  if (given.length !== 16 || given.toString("base64url") !== m[2]) return null;
  return timingSafeEqual(given, tag(secret, sub, m[1])) ? m[1] : null;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [sub, opaque] = process.argv.slice(2);
  console.log(bindId(process.env.ORIGIN_SECRET, sub, opaque));
}
