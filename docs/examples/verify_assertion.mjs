// Verifies session-gate's X-Session-Assertion in Node.js (no dependencies).
// Usage as a library:  verifyAssertion(header, { secret, host, method, path, query })
//   query: the raw query string the origin received, without "?" ("" when none)
// Usage from a shell:  ORIGIN_SECRET=... node verify_assertion.mjs ASSERTION HOST METHOD PATH [QUERY]
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export function verifyAssertion(header, { secret, host, method, path, query = "", now = Date.now() }) {
  const parts = String(header).trim().split(".");
  if (parts.length !== 3 || parts[0] !== "v1") throw new Error("not of the form v1.<payload>.<tag>");
  const [, payload, tag] = parts;
  const expected = createHmac("sha256", secret).update(`session-gate/assertion/v1\0${payload}`).digest();
  const given = Buffer.from(tag, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error("tag does not verify");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  if (now > claims.exp) throw new Error("expired");
  if (claims.aud.toLowerCase() !== host.toLowerCase()) throw new Error("issued for another host");
  if (claims.mth !== method) throw new Error("issued for another method");
  if (claims.pth !== path) throw new Error("issued for another path");
  if (claims.qsh !== createHash("sha256").update(query).digest("base64url")) throw new Error("issued for another query");
  return claims; // claims.sub is null for an anonymous request on a public path
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [assertion, host, method, path, query = ""] = process.argv.slice(2);
  try {
    console.log(JSON.stringify(verifyAssertion(assertion, { secret: process.env.ORIGIN_SECRET, host, method, path, query })));
  } catch (e) {
    console.error(`invalid assertion: ${e.message}`);
    process.exit(1);
  }
}
