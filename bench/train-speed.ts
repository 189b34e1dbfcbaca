/**
 * Training speed: ms per optimizer step of a 784-512-512-512-10 MLP, batch 128, Adam, on
 * tfjs-wasm, against the same plain step in PyTorch on CPU, all measured in this one run.
 * Cases run interleaved for several rounds (so drifting machine load hits them alike) and
 * each reports the median over rounds.
 *
 *   plain            full network, hand-written dense gradient (training/models/dense.ts)
 *   plain-builtin    full network, tfjs's own MatMul gradient (transpose flags: the slow form)
 *   sorted           g = 4 subnets per step, sandwich sampling
 *   plain-2w/sorted-2w   the same on 2 data-parallel replicas (calling thread + 1 worker)
 *   torch-1t/torch-2t    the plain step in PyTorch CPU with 1 and 2 threads (bench/torch_step.py)
 *
 * Usage: node --import tsx bench/train-speed.ts [--steps 40] [--rounds 3] [--no-torch] [--no-workers]
 * Writes bench/results/train-speed.json and prints a markdown table.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../training/backend.js';
import { denseBuiltin } from '../training/models/dense.js';
import { softmaxCrossEntropy } from '../training/models/loss.js';
import { SortedMlp } from '../training/models/mlp.js';
import { ReplicaGroup } from '../training/parallel.js';
import { Rng } from '../training/rng.js';
import { sampleSubnets } from '../training/sampling.js';
import { latticeOf, type Levels } from '../training/spec.js';
import { batchTensors, trainStep, type Batch } from '../training/step.js';
import { registerBuiltinGradients } from '../test/training/helpers.js';

const HIDDEN = 512, DEPTH = 3, BATCH = 128, INPUTS = 784, CLASSES = 10, G = 4;
const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

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

function torchStep(threads: number, steps: number): { ms: number; version: string } | undefined {
  try {
    const script = fileURLToPath(new URL('./torch_step.py', import.meta.url));
    const out = execFileSync('/usr/bin/python3', [script, '--hidden', String(HIDDEN), '--depth', String(DEPTH), '--batch', String(BATCH), '--steps', String(steps), '--threads', String(threads)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { ms_per_step: number; torch: string };
    return { ms: r.ms_per_step, version: r.torch };
  } catch {
    return undefined;
  }
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

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: true, options: {
    steps: { type: 'string', default: '40' }, rounds: { type: 'string', default: '3' },
    'no-torch': { type: 'boolean' }, 'no-workers': { type: 'boolean' },
  } });
  const steps = Number(values.steps), rounds = Number(values.rounds);
  const backend = await initBackend('wasm');
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
    { name: 'plain-builtin', what: "full MLP, tfjs's built-in MatMul gradient", steps: Math.max(5, Math.round(steps / 4)), run: builtinStep, warm: builtinStep },
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
  const samples: Record<string, number[]> = {};
  let torchVersion: string | undefined;
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) (samples[c.name] ??= []).push(timeSteps(c));
    if (!values['no-torch']) {
      for (const threads of [1, 2]) {
        const t = torchStep(threads, Math.max(steps, 50));
        if (t) { (samples[`torch-${threads}t`] ??= []).push(t.ms); torchVersion = t.version; }
      }
    }
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
  for (const g of groups) await g.stop();
  const scalingAfter = await threadScaling();

  const ms = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  const ratio = (a: string, b: string) => (ms[a] && ms[b] ? ms[a]! / ms[b]! : null);
  const result = {
    name: 'train-speed',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavgBefore: loadBefore, loadavgAfter: loadavg(), node: process.version, twoThreadScaling: { before: scalingBefore, after: scalingAfter } },
    setup: { mlp: `${INPUTS}-${HIDDEN}-${HIDDEN}-${HIDDEN}-${CLASSES}`, batch: BATCH, optimizer: 'adam', groups: G, sampling: 'sandwich', stepsPerRound: steps, rounds, backend, torch: torchVersion ?? null },
    msPerStep: ms,
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
  const lines = ['| case | what | ms/step (median) | rounds |', '|---|---|---:|---|'];
  for (const [k, v] of Object.entries(ms)) lines.push(`| ${k} | ${what[k]} | ${v.toFixed(1)} | ${samples[k]!.map((s) => s.toFixed(1)).join(', ')} |`);
  lines.push('', '| ratio | value |', '|---|---:|');
  for (const [k, v] of Object.entries(result.ratios)) lines.push(`| ${k} | ${v === null ? 'n/a' : `${v.toFixed(2)}x`} |`);
  lines.push('', `load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} CPUs; two threads did ${scalingBefore.toFixed(2)}x (before) and ${scalingAfter.toFixed(2)}x (after) the work of one (2.00 when both cores are free)`);
  console.log(lines.join('\n'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
