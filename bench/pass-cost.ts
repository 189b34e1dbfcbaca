/**
 * What one subnet's pass costs in a sorted CNN training step, against its MACs and against the
 * same step of its alone twin (a network of that shape, trained by itself): the quality study's
 * 3-stage CNN (16 channels, depths 1-4 x widths 0.25-1), batch 128, Adam, tfjs-wasm.
 *
 * For each subnet, a step that trains only it in the sorted model, and a step of its twin
 * (round(w·16) channels, d blocks), timed interleaved, best of `--rounds` rounds of `--steps`
 * steps (other processes only add time). Then the expected step time of a sampling recipe is the
 * sum, over its draws, of these per-subnet times (each subnet as its own pass; a recipe's
 * subnets of one width share stage 0 in training, so this slightly overstates it), from
 * 20,000 seeded plans, as a ratio to the full subnet's step.
 *
 * Usage: node --import tsx bench/pass-cost.ts [--steps 4] [--rounds 3]
 * Writes bench/results/pass-cost-cnn.json and prints a markdown table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { cnnMacs } from '../runtime/graphs/cnn.js';
import { initBackend } from '../training/backend.js';
import { SortedCnn } from '../training/models/cnn.js';
import { Rng } from '../training/rng.js';
import { costWeight, planStep, type Sampling } from '../training/scheme/sampling.js';
import { latticeOf, subnetId, type Levels } from '../training/spec.js';
import { cnnTrainStep } from '../training/train-cnn.js';
import { cnnTwinConfig } from './quality-studies.js';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '4' }, rounds: { type: 'string', default: '3' } } });
const STEPS = Number(values.steps);
const ROUNDS = Number(values.rounds);
if (!(Number.isInteger(STEPS) && STEPS > 0 && Number.isInteger(ROUNDS) && ROUNDS > 0)) throw new Error('bench/pass-cost.ts: --steps and --rounds take whole numbers > 0');

const BATCH = 128;
const CONFIG = { imageSize: 28, inChannels: 1, classes: 10, channels: 16, stages: 3, blocks: 4, stemStride: 2 };
const DIMS = { depth: [1, 2, 3, 4], width: [0.25, 0.5, 0.75, 1] };
/** Recipes of the quality study: [label, sampling, g, cost power]. */
const RECIPES: [string, Sampling, number, number][] = [
  ['uniform g = 5, cost power 0.5', 'uniform', 5, 0.5],
  ['uniform g = 4, cost power 0.5', 'uniform', 4, 0.5],
  ['uniform g = 4', 'uniform', 4, 0],
  ['sandwich g = 3', 'sandwich', 3, 0],
  ['sandwich g = 3, cost power 1', 'sandwich', 3, 1],
];

const backend = await initBackend('wasm');
const rng = new Rng(1);
const x = new Float32Array(BATCH * CONFIG.imageSize ** 2).map(() => rng.next());
const labels = new Uint8Array(BATCH).map(() => rng.int(10));
const lattice = latticeOf(DIMS);
const macs = (l: Levels) => cnnMacs(CONFIG, DIMS, l);
const fullMacs = macs(lattice.at(-1)!);

const sorted = SortedCnn.init(CONFIG, new Rng(0));
const sortedOpt = tf.train.adam(1e-3);
const cases = lattice.map((l) => {
  // The quality study's twin of this subnet (every width of this lattice has an exact one).
  const { channels, blocks } = cnnTwinConfig(CONFIG, l)!;
  const twin = SortedCnn.init({ ...CONFIG, channels: channels!, blocks: blocks! }, new Rng(0));
  const twinOpt = tf.train.adam(1e-3);
  return {
    sorted: () => void cnnTrainStep(sorted, sortedOpt, x, labels, BATCH, [l], 'mean'),
    twin: () => void cnnTrainStep(twin, twinOpt, x, labels, BATCH, [{ depth: l.depth!, width: 1 }], 'mean'),
    dispose: () => twin.dispose(),
  };
});
const timeSteps = (f: () => void): number => {
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) f();
  return (performance.now() - t0) / STEPS;
};
for (const c of cases) {
  for (let i = 0; i < 2; i++) {
    c.sorted();
    c.twin();
  }
}
const load = { before: loadavg() };
const best = cases.map(() => ({ sorted: Infinity, twin: Infinity }));
for (let r = 0; r < ROUNDS; r++) {
  cases.forEach((c, i) => {
    best[i]!.sorted = Math.min(best[i]!.sorted, timeSteps(c.sorted));
    best[i]!.twin = Math.min(best[i]!.twin, timeSteps(c.twin));
  });
  process.stderr.write(`round ${r + 1}/${ROUNDS} done\n`);
}
for (const c of cases) c.dispose();
sorted.dispose();

const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;
const fullMs = best.at(-1)!.sorted;
const msOf = new Map(lattice.map((l, i) => [subnetId(l), best[i]!.sorted]));
const subnets = lattice.map((l, i) => ({
  id: subnetId(l),
  macs_share: round(macs(l) / fullMacs),
  sorted_ms: round(best[i]!.sorted, 1),
  twin_ms: round(best[i]!.twin, 1),
  sorted_over_twin: round(best[i]!.sorted / best[i]!.twin),
  time_share: round(best[i]!.sorted / fullMs),
}));
const recipes = RECIPES.map(([label, sampling, g, power]) => {
  const weight = costWeight(macs, power);
  const plans = new Rng(7);
  let ms = 0;
  let mac = 0;
  const N = 20000;
  for (let i = 0; i < N; i++) {
    for (const s of planStep(DIMS, g, sampling, plans, weight).subnets) {
      ms += msOf.get(subnetId(s))!;
      mac += macs(s) / fullMacs;
    }
  }
  return { recipe: label, step_macs_over_full: round(mac / N), step_time_over_full: round(ms / N / fullMs) };
});
const out = {
  name: 'pass-cost-cnn', date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavgBefore: load.before.map((v) => round(v, 2)), loadavgAfter: loadavg().map((v) => round(v, 2)), node: process.version, backend },
  setup: { cnn: CONFIG, dims: DIMS, batch: BATCH, optimizer: 'adam', steps: STEPS, rounds: ROUNDS, timing: 'best round, each subnet and its twin interleaved' },
  subnets, recipes,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/pass-cost-cnn.json', `${JSON.stringify(out, null, 1)}\n`);
console.log('| subnet | MACs / full | ms per step (sorted model) | twin ms | sorted / twin | time / full |\n|---|---:|---:|---:|---:|---:|');
for (const s of subnets) console.log(`| ${s.id} | ${s.macs_share} | ${s.sorted_ms} | ${s.twin_ms} | ${s.sorted_over_twin} | ${s.time_share} |`);
console.log('\n| recipe | step MACs / full | step time / full (from the rows above) |\n|---|---:|---:|');
for (const r of recipes) console.log(`| ${r.recipe} | ${r.step_macs_over_full} | ${r.step_time_over_full} |`);
console.log('\nwritten: bench/results/pass-cost-cnn.json');
