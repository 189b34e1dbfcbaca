/**
 * Train the sorted CNN on Fashion-MNIST, then measure every subnet's test accuracy, and how much
 * per-subnet batch-norm statistics matter: each subnet is also evaluated with the statistics a
 * simpler scheme would have (its width's statistics from the deepest subnet; the full
 * network's statistics sliced to its channels). Writes bench/results/cnn-fashion.json and
 * prints markdown tables.
 *
 * @example
 * node --import tsx bench/cnn-fashion.ts --epochs 2 --widths 0.125,0.25,0.375,0.5,0.625,0.75,0.875,1
 * // | subnet | depth | width | params | MACs | accuracy | loss |
 * // | d1-w13 | 1 | 0.13 | 1,382 | 107,488 | 78.1% | ...
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { evaluateCnn } from '../training/cnn-eval.js';
import { formatTable } from '../training/eval.js';
import { loadFashionMnist } from '../training/data/fashion-mnist.js';
import { SortedCnn, type BnStats, type CnnConfig } from '../training/models/cnn.js';
import { trainCnn } from '../training/train-cnn.js';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '2' },
    widths: { type: 'string', default: '0.25,0.5,0.75,1' },
    depths: { type: 'string', default: '1,2,3,4' },
    channels: { type: 'string', default: '16' },
    groups: { type: 'string', default: '3' },
    batch: { type: 'string', default: '128' },
    lr: { type: 'string', default: '0.003' },
    'limit-train': { type: 'string' },
    'ablation-test': { type: 'string', default: '2000' },
    out: { type: 'string', default: 'bench/results/cnn-fashion.json' },
  },
});
const list = (s: string) => s.split(',').map(Number);
const depths = list(values.depths);

const data = await loadFashionMnist(values['limit-train'] ? { limitTrain: Number(values['limit-train']) } : {});
const wall = performance.now();
let lastLog = 0;
const result = await trainCnn({
  data,
  epochs: Number(values.epochs),
  widths: list(values.widths),
  depths,
  blocks: Math.max(...depths),
  channels: Number(values.channels),
  groups: Number(values.groups),
  batch: Number(values.batch),
  lr: Number(values.lr),
  backend: 'wasm',
  onProgress: (e) => {
    const now = performance.now();
    if (e.type === 'start') console.log(`backend ${e.backend}: ${e.train} train, ${e.test} test, ${e.subnets} subnets, ${e.totalSteps} steps`);
    if (e.type === 'step' && (now - lastLog > 30_000 || e.step === e.totalSteps)) {
      lastLog = now;
      console.log(`step ${e.step}/${e.totalSteps} epoch ${e.epoch} loss ${e.loss.toFixed(4)} ${e.stepsPerSec.toFixed(2)} steps/s ${((now - wall) / 1000).toFixed(0)} s`);
    }
    if (e.type === 'epoch') console.log(`epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)}; ${e.checks.map((c) => `${c.id} ${((c.metrics.accuracy ?? 0) * 100).toFixed(2)}%`).join(', ')}`);
  },
});
console.log(`\ntrain ${result.seconds.train.toFixed(0)} s, calibrate ${result.seconds.calibrate.toFixed(0)} s, eval ${result.seconds.eval.toFixed(0)} s\n`);
console.log(formatTable(result.subnets));

// Ablation: the same weights with the statistics of simpler schemes, on the first test images.
const { spec, tensors } = result.checkpoint;
const config = spec.config as unknown as CnnConfig;
const model = SortedCnn.fromTensors(tensors, config);
const own = new Map(model.stats);
const full = `d${config.blocks}-w100`;
const schemes: Record<string, (key: string, bn: string, stats: BnStats) => BnStats> = {
  'per subnet (shipped)': (_k, _bn, s) => s,
  'per width, from the deepest subnet': (key, bn, s) => (key.startsWith('d') ? own.get(`${bn}.stats.d${config.blocks}-${key.split('-')[1]}`)! : s),
  'one set (the full network), sliced': (key, bn, s) => {
    const f = own.get(`${bn}.stats.${key.startsWith('d') ? full : 'w100'}`)!;
    return { mean: f.mean.slice(0, s.mean.length), variance: f.variance.slice(0, s.variance.length) };
  },
};
const limit = Number(values['ablation-test']);
const ablation: Record<string, Record<string, number>> = {};
for (const [name, pick] of Object.entries(schemes)) {
  model.stats.clear();
  for (const [k, s] of own) {
    const m = /^(.+)\.stats\.(.+)$/.exec(k)!;
    model.stats.set(k, pick(m[2]!, m[1]!, s));
  }
  ablation[name] = Object.fromEntries(evaluateCnn(model, data.test, spec.dims, { limit }).map((s) => [s.id, s.metrics.accuracy!]));
}
model.dispose();
const ids = result.subnets.map((s) => s.id);
const names = Object.keys(schemes);
console.log(`\nBN statistics ablation (accuracy on the first ${limit} test images):\n`);
console.log(`| subnet | ${names.join(' | ')} |\n|---|${names.map(() => '---:').join('|')}|`);
for (const id of ids) console.log(`| ${id} | ${names.map((n) => `${(ablation[n]![id]! * 100).toFixed(2)}%`).join(' | ')} |`);

const wallSeconds = (performance.now() - wall) / 1000;
await mkdir('bench/results', { recursive: true });
await writeFile(values.out, JSON.stringify({
  name: 'cnn-fashion',
  date: new Date().toISOString(),
  config: spec.config,
  dims: spec.dims,
  training: spec.training,
  data: spec.data,
  seconds: { ...result.seconds, wall: wallSeconds },
  subnets: result.subnets,
  bnAblation: { testImages: limit, accuracy: ablation },
}, null, 2));
console.log(`\nwrote ${values.out} (${wallSeconds.toFixed(0)} s wall)`);
