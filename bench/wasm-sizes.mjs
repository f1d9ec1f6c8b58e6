// Where a Wasm module's bytes are, without twiggy: reads the code section's
// function bodies and the name section's function names, groups the body
// sizes by crate (the first path segment of the demangled name), and lists
// the largest functions. `node bench/wasm-sizes.mjs target/index_bg.with-names.wasm`
// (scripts/build.sh leaves that copy with names beside every build);
// bench/run.mjs prints it when twiggy is not installed.
import fs from "node:fs";
const buf = fs.readFileSync(process.argv[2] ?? "target/index_bg.with-names.wasm");
let p = 8;
const leb = () => { let r = 0, s = 0, b; do { b = buf[p++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80); return r >>> 0; };
const sections = []; let imports = 0; const bodies = []; const names = new Map(); let dataBytes = 0;
while (p < buf.length) {
  const id = buf[p++]; const size = leb(); const start = p; const end = p + size;
  let name = id;
  if (id === 0) { const n = leb(); name = buf.slice(p, p + n).toString(); p += n;
    if (name === "name") { while (p < end) { const sub = buf[p++]; const ssize = leb(); const send = p + ssize;
      if (sub === 1) { const count = leb(); for (let i = 0; i < count; i++) { const idx = leb(); const l = leb(); names.set(idx, buf.slice(p, p + l).toString()); p += l; } }
      p = send; } } }
  if (id === 2) { const count = leb(); for (let i = 0; i < count; i++) { let l = leb(); p += l; l = leb(); p += l; const kind = buf[p++];
      if (kind === 0) { leb(); imports++; } else if (kind === 1) { p++; const f = buf[p++]; leb(); if (f & 1) leb(); } else if (kind === 2) { const f = buf[p++]; leb(); if (f & 1) leb(); } else if (kind === 3) { p++; p++; } else if (kind === 4) { p++; leb(); } } }
  if (id === 10) { const count = leb(); for (let i = 0; i < count; i++) { const s = leb(); bodies.push([imports + i, s]); p += s; } }
  if (id === 11) dataBytes = size;
  sections.push([name, size]); p = end;
}
const groups = new Map();
for (const [idx, size] of bodies) {
  let n = names.get(idx) ?? `code[${idx}]`;
  let m = /^<?(?:&(?:mut )?)?(?:<)?([A-Za-z_][A-Za-z0-9_]*)/.exec(n.replace(/^<\w+ as /, "<"));
  let crate = m ? m[1] : "other";
  if (n.includes("future_to_promise")) crate = "async glue (js_sys future_to_promise)";
  groups.set(crate, (groups.get(crate) ?? 0) + size);
}
console.log("sections:", sections.map(([n, s]) => `${n}:${s}`).join(" "));
console.log("total", buf.length, "code bodies", bodies.reduce((a, b) => a + b[1], 0), "data", dataBytes);
for (const [c, s] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(String(s).padStart(8), c);
console.log("--- largest functions");
for (const [idx, s] of [...bodies].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(String(s).padStart(8), (names.get(idx) ?? idx).slice(0, 140));
