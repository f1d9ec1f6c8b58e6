// How precise a run's ratios are, from its rounds: for the gate against each
// other Worker, the median of the per-round CPU ratios (what bench/run.mjs
// reports), the ratio of summed CPU to summed requests over all rounds, and
// each one's standard error by a bootstrap over the rounds (2,000 resamples,
// a fixed seed so a run's figures can be checked).
//
//   node bench/rounds.mjs [bench/results.json]
//
// BENCHMARKS.md ("Why 60 rounds") quotes it.
import fs from "node:fs";

import { median } from "./lib.mjs";

const file = process.argv[2] ?? new URL("results.json", import.meta.url).pathname;
const rounds = JSON.parse(fs.readFileSync(file, "utf8")).e2e?.rounds;
if (!rounds) throw new Error(`${file} has no rounds (written by bench/run.mjs since 2026-12-02)`);

// mulberry32: a small seeded generator, so two runs of this script agree.
let seed = 1;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const stdev = (xs) => {
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length);
};
const totals = (a, b, picks) => {
  const cpu = (s) => picks.reduce((sum, i) => sum + s[i].cpuUs * s[i].requests, 0);
  const requests = (s) => picks.reduce((sum, i) => sum + s[i].requests, 0);
  return cpu(a) / requests(a) / (cpu(b) / requests(b));
};

const f = (x) => x.toFixed(3);
for (const kind of ["valid", "invalid", "missing"]) {
  const gate = rounds[`${kind}/gate`];
  if (!gate) continue;
  for (const other of ["gate-aa", "peer", "minimal-peer"]) {
    const them = rounds[`${kind}/${other}`];
    if (!them) continue;
    const n = gate.length;
    const ratios = gate.map((g, i) => g.cpuUs / them[i].cpuUs);
    const all = [...Array(n).keys()];
    const medians = [];
    const sums = [];
    for (let b = 0; b < 2000; b++) {
      const picks = all.map(() => Math.floor(random() * n));
      medians.push(median(picks.map((i) => ratios[i])));
      sums.push(totals(gate, them, picks));
    }
    console.log(`${kind.padEnd(8)} gate/${other.padEnd(13)} median ${f(median(ratios))} (se ${f(stdev(medians))})  ` +
      `summed ${f(totals(gate, them, all))} (se ${f(stdev(sums))})  ${n} rounds`);
  }
}
