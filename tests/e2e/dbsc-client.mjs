// A client that speaks Device Bound Session Credentials (W3C DBSC) as
// Chrome does, with a P-256 key from node:crypto: it answers a
// `Secure-Session-Registration` header, keeps the instructions, and
// refreshes with `Sec-Secure-Session-Id`, a 403 challenge and a signed
// `Secure-Session-Response`. Used by tests/e2e/dbsc.test.mjs.
import { generateKeyPairSync, sign } from "node:crypto";
import { rememberCookie } from "./harness.mjs";

const b64 = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A fresh P-256 key pair and its public JWK. */
export function newKey() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const { kty, crv, x, y } = publicKey.export({ format: "jwk" });
  return { privateKey, jwk: { kty, crv, x, y } };
}

/**
 * A DBSC proof (`dbsc+jwt`, ES256, signed in IEEE P1363 form, as Chrome
 * sends it). Options forge the variants the gate must refuse.
 */
export function proof(key, jti, { jwk = key.jwk, alg = "ES256", typ = "dbsc+jwt", signer = key.privateKey, extra = {} } = {}) {
  const header = { alg, typ, ...(jwk ? { jwk } : {}) };
  const input = `${b64(header)}.${b64({ jti, ...extra })}`;
  const signature = alg === "none" ? Buffer.alloc(0) : sign("sha256", Buffer.from(input), { key: signer, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

/** The parameters of a `Secure-Session-Registration` value. */
export function parseRegistration(value) {
  const m = /^\(ES256\);path="([^"]+)";challenge="([^"]+)"$/.exec(value ?? "");
  return m && { path: m[1], challenge: m[2] };
}

/** The challenge and id of a `Secure-Session-Challenge` value. */
export function parseChallenge(value) {
  const m = /^"([^"]+)";id="([^"]+)"$/.exec(value ?? "");
  return m && { challenge: m[1], id: m[2] };
}

/**
 * A cookie jar and a DBSC session: `send(path, init)` sends the jar's
 * cookies (those whose Path matches) and keeps what comes back, honouring
 * Max-Age against `clock()` (milliseconds), as a browser does.
 */
export class DbscBrowser {
  constructor(gate, { clock = () => Date.now() } = {}) {
    this.gate = gate;
    this.clock = clock;
    this.cookies = new Map();
    this.key = newKey();
    this.session = null;
  }

  cookieHeader(path) {
    const now = this.clock();
    const pairs = [];
    for (const [name, c] of this.cookies) {
      if (c.expires <= now) continue;
      if (path === c.path || path.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`)) pairs.push(`${name}=${c.value}`);
    }
    return pairs.join("; ");
  }

  keep(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";").map((s) => s.trim());
      const i = pair.indexOf("=");
      const name = pair.slice(0, i);
      const attr = (k) => attrs.find((a) => a.toLowerCase().startsWith(`${k}=`))?.split("=")[1];
      const maxAge = Number(attr("max-age") ?? 1e9);
      rememberCookie(pair.slice(i + 1));
      this.cookies.set(name, { value: pair.slice(i + 1), path: attr("path") ?? "/", expires: this.clock() + maxAge * 1000 });
    }
  }

  async send(path, init = {}) {
    const headers = { ...(init.headers ?? {}) };
    const cookie = this.cookieHeader(path);
    if (cookie) headers.cookie = cookie;
    const res = await this.gate.fetch(path, { ...init, headers });
    this.keep(res);
    return res;
  }

  /** Registers with the key, as Chrome does on a registration header. */
  async register(registrationHeader, options = {}) {
    const reg = parseRegistration(registrationHeader);
    const res = await this.send(reg.path, {
      method: "POST",
      headers: { "secure-session-response": `"${proof(this.key, reg.challenge, options)}"` },
    });
    const body = await res.text();
    if (res.status === 200) this.session = JSON.parse(body);
    return { status: res.status, body, res };
  }

  /** One refresh: the bare request, the 403 challenge, the signed answer. */
  async refresh({ signWith = this.key } = {}) {
    const id = { "sec-secure-session-id": `"${this.session.session_identifier}"` };
    const first = await this.send(this.session.refresh_url, { method: "POST", headers: id });
    await first.text();
    if (first.status !== 403) return { status: first.status, step: "bare" };
    const { challenge } = parseChallenge(first.headers.get("secure-session-challenge"));
    const res = await this.send(this.session.refresh_url, {
      method: "POST",
      headers: { ...id, "secure-session-response": `"${proof(signWith, challenge, { jwk: null })}"` },
    });
    const body = await res.text();
    return { status: res.status, body, res, challenge, step: "signed" };
  }
}
