// Cost of what the adapter asks WebCrypto per DBSC proof: importKey("raw") + verify(ECDSA P-256, SHA-256).
const { subtle } = globalThis.crypto;
const kp = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
const raw = new Uint8Array(await subtle.exportKey("raw", kp.publicKey));
const msg = new TextEncoder().encode("eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJjIn0");
const sig = new Uint8Array(await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, kp.privateKey, msg));
const N = 2000;
for (let i = 0; i < 200; i++) { const k = await subtle.importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]); await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, k, sig, msg); }
const t0 = process.cpuUsage();
const w0 = performance.now();
for (let i = 0; i < N; i++) {
  const k = await subtle.importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  if (!(await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, k, sig, msg))) throw new Error("no");
}
const t = process.cpuUsage(t0);
console.log(`importKey+verify: ${((t.user + t.system) / N).toFixed(1)} µs CPU, ${((performance.now() - w0) * 1000 / N).toFixed(1)} µs wall per proof (node ${process.version}, N=${N})`);
