// Signs an origin's handshake for session-gate (HANDSHAKE_AUTH=on) in Node.js
// (no dependencies): the value of X-Session-Handshake for these handshake
// headers and the request's X-Session-Nonce.
// Usage as a library:  headers["X-Session-Handshake"] = signHandshake(headers, { secret, nonce })
// Usage from a shell:  ORIGIN_SECRET=... node sign_handshake.mjs NONCE 'x-session-login:alice' ...
import { createHmac } from "node:crypto";

const ORDER = ["x-session-login", "x-session-roles", "x-session-logout", "x-session-rotate", "x-session-revoke-user"];

/** A user id in its one header spelling: UTF-8, visible ASCII but % , ; " \ literal, the rest %XX. */
export function encodeSub(sub) {
  let out = "";
  for (const b of Buffer.from(sub.normalize("NFC"), "utf8")) {
    const literal = b >= 0x21 && b <= 0x7e && !'%,;"\\'.includes(String.fromCharCode(b));
    out += literal ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** `headers`: an object or [name, value] pairs; names in any case; other headers are ignored. */
export function signHandshake(headers, { secret, nonce }) {
  if (!/^[A-Za-z0-9_-]{22}$/.test(nonce ?? "")) throw new Error("the request carried no valid X-Session-Nonce");
  const given = new Map();
  for (const [name, value] of Array.isArray(headers) ? headers : Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!ORDER.includes(lower)) continue;
    if (given.has(lower)) throw new Error(`${lower} appears more than once`);
    if (/[\r\n\0]/.test(value)) throw new Error(`${lower} holds a line break or NUL`);
    given.set(lower, String(value));
  }
  const lines = ORDER.filter((n) => given.has(n)).map((n) => `${n}:${given.get(n)}`);
  return createHmac("sha256", secret).update(`session-gate/handshake/v1\0${nonce}\0${lines.join("\0")}`).digest("base64url");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [nonce, ...lines] = process.argv.slice(2);
  try {
    const headers = lines.map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)]);
    console.log(signHandshake(headers, { secret: process.env.ORIGIN_SECRET, nonce }));
  } catch (e) {
    console.error(`cannot sign: ${e.message}`);
    process.exit(1);
  }
}
