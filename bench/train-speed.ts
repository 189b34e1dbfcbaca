/**
 * Training speed: ms per optimizer step of a 784-512-512-512-10 MLP, batch 128, Adam, on
 * tfjs-wasm, against the same plain step in PyTorch on CPU, all measured in this one run.
 * Cases run interleaved in many short rounds (PyTorch included, through a server process),
 * so drifting machine load hits them alike; each reports its best round (other processes
 * only add time) and its median, and the ratios use the best rounds.
 *
 *   plain            full network, hand-written dense gradient (training/models/dense.ts)
 *   plain-builtin    full network, tfjs's own MatMul gradient (transpose flags: the slow form)
 *   sorted           g = 4 subnets per step, sandwich sampling
 *   plain-2w/sorted-2w   the same on 2 data-parallel replicas (calling thread + 1 worker)
 *   torch-1t/torch-2t    the plain step in PyTorch CPU with 1 and 2 threads (bench/torch_step.py)
 *
 * Usage: node --import tsx bench/train-speed.ts [--steps 10] [--rounds 10] [--no-torch] [--no-workers]
 * Writes bench/results/train-speed.json and prints a markdown table.
 *
 * With `--arch cnn` (`npm run bench:train-cnn`) it times the CNN of the quality study instead
 * (16 channels, 2 stages, 4 blocks; depths 1-4 x widths 0.25-1; batch 128; distillation 0.5,
 * the CNN default): the plain full step, and the g = 3 sandwich step (largest + smallest + one
 * middle subnet) for each of the 14 middle subnets, all interleaved per round. A sandwich step
 * draws its middle subnet with probability p_m (uniform, or MACs^-P under `--cost-power P`), so
 * its expected time is the p-weighted sum of those 14 steps: exact, with no sampling noise.
 * Writes bench/results/train-speed-cnn.json with that ratio to the plain step for P = 0, 0.5, 1.
 * `--channels N --stages N --distill A` time another network (written to
 * train-speed-cnn-c{N}-s{N}-d{A}.json), e.g. the quality study's `--cnn-stages 3` run.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { cnnMacs } from '../runtime/graphs/cnn.js';
import { initBackend } from '../training/backend.js';
import { SortedCnn } from '../training/models/cnn.js';
import { denseBuiltin } from '../training/models/dense.js';
import { softmaxCrossEntropy } from '../training/models/loss.js';
import { SortedMlp } from '../training/models/mlp.js';
import { ReplicaGroup } from '../training/parallel.js';
import { Rng } from '../training/rng.js';
import { costWeight, sampleSubnets } from '../training/scheme/sampling.js';
import { latticeOf, subnetId, type Levels } from '../training/spec.js';
import { batchTensors, trainStep, type Batch } from '../training/step.js';
import { cnnTrainStep } from '../training/train-cnn.js';
import { registerBuiltinGradients } from '../test/training/helpers.js';

const HIDDEN = 512, DEPTH = 3, BATCH = 128, INPUTS = 784, CLASSES = 10, G = 4;
const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
/** The quality study's CNN: `--arch cnn` times it unless --channels, --stages or --distill say otherwise. */
const CNN_SHAPE = { channels: 16, stages: 2, distill: 0.5 };

type Case = { name: string; what: string; steps: number; run: () => void; warm: () => void };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function timeSteps(c: Case): number {
  const t0 = performance.now();
  for (let i = 0; i < c.steps; i++) c.run();
  return (performance.now() - t0) / c.steps;
}

/** A PyTorch process that answers "run N steps" requests, so torch interleaves with the tfjs cases. */
async function torchServer(threads: number): Promise<{ run: (steps: number) => Promise<number>; version: string; close: () => void } | undefined> {
  const script = fileURLToPath(new URL('./torch_step.py', import.meta.url));
  const args = [script, '--serve', '--hidden', String(HIDDEN), '--depth', String(DEPTH), '--batch', String(BATCH), '--threads', String(threads)];
  const child = spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'ignore'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => JSON.parse(((await lines.next()).value as string | undefined) ?? 'null') as { ready?: boolean; ms_per_step?: number; torch?: string } | null;
  child.on('error', () => {});
  try {
    const ready = await next();
    if (!ready?.ready) throw new Error('torch did not start');
  } catch {
    child.kill();
    return undefined;
  }
  let version = '';
  return {
    run: async (steps) => {
      child.stdin.write(`${steps}\n`);
      const r = await next();
      version = r?.torch ?? version;
      return r?.ms_per_step ?? NaN;
    },
    get version() { return version; },
    close: () => { child.stdin.end(); child.kill(); },
  };
}

/**
 * How much a second thread gets on this machine right now: iterations of a fixed arithmetic
 * loop per ms with two threads (main + worker) over one thread alone. 2.0 on an idle
 * 2-core machine; less when other processes hold the cores.
 */
async function threadScaling(ms = 1500): Promise<number> {
  const { Worker } = await import('node:worker_threads');
  const spin = `function spin(ms){let n=0,x=1;const end=Date.now()+ms;while(Date.now()<end){for(let i=0;i<1e5;i++)x=(x*1.0000001)%7;n++;}return n;}`;
  const alone = new Function(`${spin}; return spin(${ms});`)() as number;
  const worker = new Worker(`${spin}; require('node:worker_threads').parentPort.postMessage(spin(${ms}));`, { eval: true });
  const other = new Promise<number>((resolve) => worker.once('message', resolve));
  const mine = new Function(`${spin}; return spin(${ms});`)() as number;
  const both = mine + (await other);
  await worker.terminate();
  return both / alone;
}

/** The CNN case (see the header): per-plan step times, and the sandwich/plain ratio by cost power. */
async function cnnSpeed(steps: number, rounds: number, backend: string, shape: { channels: number; stages: number; distill: number }): Promise<void> {
  const config = { imageSize: 28, inChannels: 1, classes: CLASSES, channels: shape.channels, stages: shape.stages, blocks: 4, stemStride: 2 };
  const dims = { depth: [1, 2, 3, 4], width: [0.25, 0.5, 0.75, 1] };
  const lattice = latticeOf(dims);
  const [smallest, largest] = [lattice[0]!, lattice.at(-1)!];
  const middle = lattice.slice(1, -1);
  const rng = new Rng(1);
  const x = new Float32Array(BATCH * INPUTS).map(() => rng.next());
  const labels = new Uint8Array(BATCH).map(() => rng.int(CLASSES));
  const opts = shape.distill > 0 ? { distill: { alpha: shape.distill, temperature: 1 } } : {};
  const loadBefore = loadavg();
  const cases: Case[] = [[largest], ...middle.map((m) => [largest, smallest, m])].map((subnets, i) => {
    const model = SortedCnn.init(config, new Rng(0));
    const opt = tf.train.adam(1e-3, ADAM.beta1, ADAM.beta2, ADAM.epsilon);
    const run = () => void cnnTrainStep(model, opt, x, labels, BATCH, subnets, 'mean', opts);
    return { name: i === 0 ? 'plain' : `sandwich+${subnetId(subnets[2]!)}`, what: subnets.map(subnetId).join(' + '), steps, run, warm: run };
  });
  for (const c of cases) for (let i = 0; i < 2; i++) c.warm();
  const samples: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) (samples[c.name] ??= []).push(timeSteps(c));
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
  const ms = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, Math.min(...v)]));
  const macs = (l: Levels) => cnnMacs(config, dims, l);
  const byPower = [0, 0.5, 1].map((power) => {
    // The weights training draws with (uniform when costWeight gives none).
    const weight = costWeight(macs, power);
    const w = middle.map((m) => weight?.(m) ?? 1);
    const total = w.reduce((a, b) => a + b, 0);
    const p = w.map((v) => v / total);
    const stepMs = p.reduce((acc, pm, i) => acc + pm * ms[`sandwich+${subnetId(middle[i]!)}`]!, 0);
    const stepMacs = macs(largest) + macs(smallest) + p.reduce((acc, pm, i) => acc + pm * macs(middle[i]!), 0);
    return { costPower: power, expectedMsPerStep: stepMs, timeRatio: stepMs / ms.plain!, macsRatio: stepMacs / macs(largest) };
  });
  const result = {
    name: 'train-speed-cnn',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavgBefore: loadBefore, loadavgAfter: loadavg(), node: process.version },
    setup: { cnn: config, dims, batch: BATCH, optimizer: 'adam', sampling: 'sandwich', groups: 3, distill: shape.distill, stepsPerRound: steps, rounds, backend },
    msPerStep: { best: ms, median: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) },
    samples,
    sandwichOverPlain: byPower,
  };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  // The default network keeps the file name the docs cite; another shape gets its own file.
  const name = shape.channels === CNN_SHAPE.channels && shape.stages === CNN_SHAPE.stages && shape.distill === CNN_SHAPE.distill ? 'train-speed-cnn' : `train-speed-cnn-c${shape.channels}-s${shape.stages}-d${shape.distill}`;
  writeFileSync(`${dir}${name}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const lines = ['| step | ms (best round) |', '|---|---:|', ...cases.map((c) => `| ${c.what} | ${ms[c.name]!.toFixed(1)} |`)];
  lines.push('', '| --cost-power | expected sandwich step / plain step (time) | (MACs) |', '|---:|---:|---:|');
  for (const b of byPower) lines.push(`| ${b.costPower} | ${b.timeRatio.toFixed(3)}x | ${b.macsRatio.toFixed(3)}x |`);
  lines.push('', `load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} CPUs`);
  console.log(lines.join('\n'));
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: true, options: {
    steps: { type: 'string' }, rounds: { type: 'string' },
    'no-torch': { type: 'boolean' }, 'no-workers': { type: 'boolean' }, arch: { type: 'string', default: 'mlp' },
    channels: { type: 'string', default: String(CNN_SHAPE.channels) }, stages: { type: 'string', default: String(CNN_SHAPE.stages) }, distill: { type: 'string', default: String(CNN_SHAPE.distill) },
  } });
  if (values.arch !== 'mlp' && values.arch !== 'cnn') throw new Error(`--arch: "${values.arch}"; use mlp or cnn`);
  const cnn = values.arch === 'cnn';
  const steps = Number(values.steps ?? (cnn ? 2 : 10)), rounds = Number(values.rounds ?? (cnn ? 6 : 10));
  const backend = await initBackend('wasm');
  if (cnn) {
    const shape = { channels: Number(values.channels), stages: Number(values.stages), distill: Number(values.distill) };
    if (!(Number.isInteger(shape.channels) && shape.channels >= 4 && Number.isInteger(shape.stages) && shape.stages >= 1 && shape.distill >= 0)) {
      throw new Error(`--channels ${values.channels} --stages ${values.stages} --distill ${values.distill}: use integers >= 4 and >= 1, and a weight >= 0`);
    }
    return cnnSpeed(steps, rounds, backend, shape);
  }
  await registerBuiltinGradients(); // for plain-builtin only; the other cases use hand-written gradients
  const loadBefore = loadavg();
  const scalingBefore = await threadScaling();

  const rng = new Rng(1);
  const x = new Float32Array(BATCH * INPUTS).map(() => rng.next());
  const labels = new Uint8Array(BATCH).map(() => rng.int(CLASSES));
  const batch: Batch = { x, labels, n: BATCH };
  const config = { inputSize: INPUTS, hidden: HIDDEN, classes: CLASSES };
  const lattice = latticeOf({ depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] });
  const full: Levels[] = [{ depth: DEPTH, width: 1 }];
  const sampler = new Rng(2);
  const nextSubnets = () => sampleSubnets(lattice, G, 'sandwich', sampler);

  const fresh = () => ({ model: SortedMlp.init(config, DEPTH, new Rng(0)), opt: tf.train.adam(1e-3, ADAM.beta1, ADAM.beta2, ADAM.epsilon) });
  const plain = fresh(), sorted = fresh(), builtin = fresh();
  const builtinStep = () => tf.tidy(() => {
    const { x: xt, y } = batchTensors(batch, INPUTS, CLASSES);
    builtin.opt.minimize(() => {
      let h: tf.Tensor2D = xt;
      for (const l of builtin.model.layers) h = denseBuiltin(h, l.weight, l.bias, 'relu');
      return softmaxCrossEntropy(denseBuiltin(h, builtin.model.head.weight, builtin.model.head.bias, 'linear'), y);
    }, false, builtin.model.variables());
  });
  const cases: Case[] = [
    { name: 'plain', what: 'full MLP, hand-written dense gradient', steps, run: () => void trainStep(plain.model, plain.opt, batch, full), warm: () => void trainStep(plain.model, plain.opt, batch, full) },
    { name: 'plain-builtin', what: "full MLP, tfjs's built-in MatMul gradient", steps: Math.max(2, Math.round(steps / 4)), run: builtinStep, warm: builtinStep },
    { name: 'sorted', what: `sorted step, g=${G} sandwich`, steps, run: () => void trainStep(sorted.model, sorted.opt, batch, nextSubnets()), warm: () => void trainStep(sorted.model, sorted.opt, batch, nextSubnets()) },
  ];
  const groups: ReplicaGroup[] = [];
  if (!values['no-workers']) {
    for (const [name, pick] of [['plain-2w', () => [lattice.length - 1]], ['sorted-2w', () => nextSubnets().map((l) => lattice.indexOf(l))]] as const) {
      const m = fresh();
      const group = await ReplicaGroup.start(m.model, m.opt, ADAM, lattice, { replicas: 2, maxBatch: BATCH, reduce: 'mean' });
      groups.push(group);
      const run = () => void group.step(batch, pick(), 1e-3);
      cases.push({ name, what: `${name.startsWith('plain') ? 'full MLP' : `sorted g=${G}`}, 2 data-parallel replicas (main + 1 worker thread)`, steps, run, warm: run });
    }
  }

  for (const c of cases) for (let i = 0; i < 3; i++) c.warm();
  const torch = values['no-torch'] ? [] : (await Promise.all([1, 2].map(async (t) => [t, await torchServer(t)] as const))).filter(([, s]) => s);
  const samples: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) (samples[c.name] ??= []).push(timeSteps(c));
    for (const [threads, server] of torch) (samples[`torch-${threads}t`] ??= []).push(await server!.run(steps));
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
  const torchVersion = torch[0]?.[1]?.version;
  torch.forEach(([, s]) => s!.close());
  for (const g of groups) await g.stop();
  const scalingAfter = await threadScaling();

  // Other processes only ever add time, so the best round is the least disturbed one: ratios
  // use it. The median is reported beside it.
  const ms = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, Math.min(...v)]));
  const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  const ratio = (a: string, b: string) => (ms[a] && ms[b] ? ms[a]! / ms[b]! : null);
  const result = {
    name: 'train-speed',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavgBefore: loadBefore, loadavgAfter: loadavg(), node: process.version, twoThreadScaling: { before: scalingBefore, after: scalingAfter } },
    setup: { mlp: `${INPUTS}-${HIDDEN}-${HIDDEN}-${HIDDEN}-${CLASSES}`, batch: BATCH, optimizer: 'adam', groups: G, sampling: 'sandwich', stepsPerRound: steps, rounds, backend, torch: torchVersion ?? null },
    msPerStep: { best: ms, median: med },
    samples,
    ratios: {
      'plain tfjs-wasm / torch 1 thread': ratio('plain', 'torch-1t'),
      'plain 2 replicas / torch 2 threads': ratio('plain-2w', 'torch-2t'),
      'built-in / hand-written gradient': ratio('plain-builtin', 'plain'),
      'sorted / plain': ratio('sorted', 'plain'),
      'plain speed-up, 2 replicas': ratio('plain', 'plain-2w'),
      'sorted speed-up, 2 replicas': ratio('sorted', 'sorted-2w'),
    },
  };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}train-speed.json`, `${JSON.stringify(result, null, 2)}\n`);

  const what: Record<string, string> = Object.fromEntries(cases.map((c) => [c.name, c.what]));
  what['torch-1t'] = 'PyTorch CPU, same plain step, 1 thread';
  what['torch-2t'] = 'PyTorch CPU, same plain step, 2 threads';
  const lines = ['| case | what | ms/step (best round) | ms/step (median) |', '|---|---|---:|---:|'];
  for (const [k, v] of Object.entries(ms)) lines.push(`| ${k} | ${what[k]} | ${v.toFixed(1)} | ${med[k]!.toFixed(1)} |`);
  lines.push('', '| ratio (best rounds) | value |', '|---|---:|');
  for (const [k, v] of Object.entries(result.ratios)) lines.push(`| ${k} | ${v === null ? 'n/a' : `${v.toFixed(2)}x`} |`);
  lines.push('', `load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} CPUs; two threads did ${scalingBefore.toFixed(2)}x (before) and ${scalingAfter.toFixed(2)}x (after) the work of one (2.00 when both cores are free)`);
  console.log(lines.join('\n'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
