/**
 * Does in-place distillation help? The sorted MLP trained on the committed Fashion-MNIST
 * subset without it (alpha 0) and with it (each alpha > 0 at each temperature), seeds paired
 * (same initial weights, batches and subnet samples for every variant), everything else equal.
 * Reports each subnet's test accuracy per run, the smallest and largest subnets' mean and
 * spread over seeds, and the paired difference to alpha 0. Writes bench/results/distill.json
 * and prints markdown tables.
 *
 * @example
 * node --import tsx bench/distill.ts --seeds 5 --epochs 10 --alphas 0,0.5 --temperatures 1,2
 * // | variant     | d1-w25 (smallest) | d3-w100 (largest) | mean of all 12 subnets | seconds/run |
 * // | alpha 0     | 80.66% ± 0.22     | 83.94% ± 0.26     | ...
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../training/backend.js';
import { loadFashionMnist, subsetDir } from '../training/data/fashion-mnist.js';
import { train } from '../training/loop.js';
import type { Sampling } from '../training/scheme/sampling.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '5' },
    alphas: { type: 'string', default: '0,0.5' },
    epochs: { type: 'string', default: '10' },
    hidden: { type: 'string', default: '256' },
    temperatures: { type: 'string', default: '1,2' },
    sampling: { type: 'string', default: 'sandwich' },
    groups: { type: 'string', default: '4' },
    out: { type: 'string', default: 'bench/results/distill.json' },
  },
});
const list = (s: string) => s.split(',').map(Number);
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i);
const alphas = list(values.alphas);
const temperatures = list(values.temperatures);
/** alpha 0 once (the temperature does not matter), then every alpha > 0 at every temperature; the first is the baseline. */
const variants = [...alphas.filter((a) => a === 0).slice(0, 1).map((alpha) => ({ alpha, temperature: 1 })), ...alphas.filter((a) => a > 0).flatMap((alpha) => temperatures.map((temperature) => ({ alpha, temperature })))];
const nameOf = (v: { alpha: number; temperature: number }) => (v.alpha === 0 ? 'alpha 0' : `alpha ${v.alpha}, T ${v.temperature}`);
const base = {
  hidden: Number(values.hidden), depths: [1, 2, 3], widths: [0.25, 0.5, 0.75, 1], epochs: Number(values.epochs), batch: 128, lr: 0.002,
  groups: Number(values.groups), sampling: values.sampling as Sampling, evalEachEpoch: false, backend: 'wasm' as const,
};

const backend = await initBackend('wasm');
const data = await loadFashionMnist({ dir: subsetDir() });
const loadBefore = loadavg();
const wall = performance.now();
console.log(`${data.train.n} train, ${data.test.n} test; ${seeds.length} seeds x ${variants.map(nameOf).join(' | ')}; ${backend}`);

interface Run { variant: string; alpha: number; temperature: number; seed: number; seconds: number; accuracy: Record<string, number> }
const runs: Run[] = [];
for (const seed of seeds) {
  for (const v of variants) {
    const t0 = performance.now();
    const r = await train({ ...base, seed, distill: v.alpha, distillTemperature: v.temperature, data });
    const run: Run = { variant: nameOf(v), ...v, seed, seconds: (performance.now() - t0) / 1000, accuracy: Object.fromEntries(r.subnets.map((s) => [s.id, s.metrics.accuracy!])) };
    runs.push(run);
    console.log(`seed ${seed} ${run.variant}: ${Object.entries(run.accuracy).map(([id, a]) => `${id} ${(a * 100).toFixed(1)}`).join(' ')} (${run.seconds.toFixed(0)} s)`);
  }
}

const ids = Object.keys(runs[0]!.accuracy);
const [smallest, largest] = [ids[0]!, ids.at(-1)!];
const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd, min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
};
const of = (variant: string) => runs.filter((r) => r.variant === variant);
const meanOver = (r: Run) => ids.reduce((a, id) => a + r.accuracy[id]!, 0) / ids.length;
const summary = variants.map((v) => ({
  variant: nameOf(v),
  ...v,
  subnets: Object.fromEntries(ids.map((id) => [id, stats(of(nameOf(v)).map((r) => r.accuracy[id]!))])),
  allSubnetsMean: stats(of(nameOf(v)).map(meanOver)),
  secondsPerRun: stats(of(nameOf(v)).map((r) => r.seconds)).mean,
}));
// Paired by seed against the first variant (same init, batches and samples).
const baseline = nameOf(variants[0]!);
const run = (variant: string, seed: number) => runs.find((r) => r.variant === variant && r.seed === seed)!;
const diff = (variant: string, f: (r: Run) => number) => stats(seeds.map((s) => f(run(variant, s)) - f(run(baseline, s))));
const paired = variants.slice(1).map((v) => ({
  variant: nameOf(v),
  versus: baseline,
  smallest: diff(nameOf(v), (r) => r.accuracy[smallest]!),
  largest: diff(nameOf(v), (r) => r.accuracy[largest]!),
  allSubnetsMean: diff(nameOf(v), meanOver),
}));

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const pm = (s: { mean: number; sd: number }) => `${pct(s.mean)} ± ${(s.sd * 100).toFixed(2)}`;
const pp = (s: { mean: number; sd: number }) => `${s.mean >= 0 ? '+' : ''}${(s.mean * 100).toFixed(2)} ± ${(s.sd * 100).toFixed(2)} pp`;
console.log(`\n| variant | ${smallest} (smallest) | ${largest} (largest) | mean of all ${ids.length} subnets | seconds/run |`);
console.log('|---|---:|---:|---:|---:|');
for (const s of summary) console.log(`| ${s.variant} | ${pm(s.subnets[smallest]!)} | ${pm(s.subnets[largest]!)} | ${pm(s.allSubnetsMean)} | ${s.secondsPerRun.toFixed(1)} |`);
console.log(`\nPaired difference per seed (variant minus ${baseline}), mean ± sd over ${seeds.length} seeds:\n`);
console.log('| variant | smallest | largest | mean of all subnets |');
console.log('|---|---:|---:|---:|');
for (const p of paired) console.log(`| ${p.variant} | ${pp(p.smallest)} | ${pp(p.largest)} | ${pp(p.allSubnetsMean)} |`);

const result = {
  name: 'distill',
  date: new Date().toISOString(),
  question: 'Does in-place distillation from the full subnet raise the sorted MLP subnets\' test accuracy?',
  config: { ...base, seeds, variants },
  data: { name: data.name, source: `${data.source}:${relative(process.cwd(), data.dir)}/`, train: data.train.n, test: data.test.n },
  smallest, largest,
  summary, paired, runs,
  notes: [
    `Accuracy on the ${data.test.n} test images of the committed subset: one image is 0.1 pp, and the binomial standard error of one accuracy near 85% is about ${(Math.sqrt(0.85 * 0.15 / data.test.n) * 100).toFixed(1)} pp.`,
    'Seeds are paired: for a given seed every variant starts from the same weights and sees the same batches and subnet samples.',
    'The distillation term is alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) for every sampled subnet but the full one (sandwich sampling: the full one trains every step).',
    'sd is the sample standard deviation over seeds.',
  ],
  machine: { cpus: cpus().length, loadavgBefore: loadBefore, loadavgAfter: loadavg(), node: process.version, backend },
  wallSeconds: Math.round((performance.now() - wall) / 100) / 10,
};
await mkdir('bench/results', { recursive: true });
await writeFile(values.out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nwrote ${values.out}`);
