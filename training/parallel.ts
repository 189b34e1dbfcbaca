/**
 * Data-parallel training on worker threads. tfjs-wasm runs one thread in Node, so a second
 * core can only help through a second tfjs instance: each replica (the calling thread is
 * replica 0, the others are worker threads) holds the same weights and its own Adam state,
 * computes the gradient on its share of the mini-batch, and then every replica averages all
 * the gradients in the same order and applies the identical AdamW step. Weights never travel,
 * only gradients, through SharedArrayBuffers; replicas stay bit-identical. Workers start from
 * the calling thread's weights and, when it is an AdamW, its optimizer state (so a resumed run
 * can use workers too).
 *
 * @example
 * const group = await ReplicaGroup.start(model, adamw, adamConfig, lattice, { replicas: 2, maxBatch: 128, reduce: 'mean' });
 * const loss = group.step({ x, labels, n: 128 }, [0, 11, 3, 5], lr); // lattice indices
 * await group.stop();
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from './checkpoint.js';
import type { Reduce } from './config.js';
import type { SortedMlp } from './models/mlp.js';
import { AdamW, type AdamWState } from './scheme/adamw.js';
import type { Levels } from './spec.js';
import { computeGradients, type Batch, type StepOptions } from './step.js';

/** Slots of the shared control array. */
export const CTRL = { seq: 0, arrived: 1, command: 2, n: 3, g: 4, failed: 5, subnets: 8 } as const;
export const CMD = { step: 1, stop: 2 } as const;
const MAX_G = 64;
const WAIT_MS = 200;

export interface AdamConfig {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Decoupled weight decay. @defaultValue 0 */
  weightDecay?: number;
}

/** Builds each worker's optimizer: the same AdamW as the calling thread's, with its state. */
export function replicaOptimizer(adam: AdamConfig, state: AdamWState | undefined, model: SortedMlp): AdamW {
  const opt = new AdamW({ ...adam });
  if (state) opt.importState(state, model.variables(), (_, i) => model.names()[i]!);
  return opt;
}

/** What a worker replica needs; all buffers are shared. */
export interface ReplicaInit {
  rank: number;
  replicas: number;
  tensors: Record<string, NamedTensor>;
  names: string[];
  lattice: Levels[];
  adam: AdamConfig;
  /** The calling thread's optimizer state at start (none: fresh moments). */
  optimizerState?: AdamWState;
  reduce: Reduce;
  step: StepOptions;
  ctrl: SharedArrayBuffer;
  /** [lr, loss per replica x 2 parities]. */
  scalars: SharedArrayBuffer;
  x: SharedArrayBuffer;
  labels: SharedArrayBuffer;
  /** 2 parities x replicas x total parameters, float32. */
  grads: SharedArrayBuffer;
}

/** Rows [start, end) of an n-row batch that replica `rank` of `replicas` takes. */
export function shareOf(n: number, rank: number, replicas: number): [number, number] {
  return [Math.floor((n * rank) / replicas), Math.floor((n * (rank + 1)) / replicas)];
}

/** Wait until ctrl[slot] >= target, failing fast if a replica reported an error. */
export function waitFor(ctrl: Int32Array, slot: number, target: number): void {
  for (;;) {
    const v = Atomics.load(ctrl, slot);
    if (v >= target) return;
    if (Atomics.load(ctrl, CTRL.failed)) throw new Error('a training worker failed (see its error above)');
    Atomics.wait(ctrl, slot, v, WAIT_MS);
  }
}

/**
 * One replica's half of a step, shared by the calling thread and the workers: gradient on
 * its rows, publish, barrier, average every replica's gradient in rank order, Adam step.
 */
export function replicaStep(r: {
  rank: number; replicas: number; model: SortedMlp; optimizer: tf.Optimizer; names: string[]; reduce: Reduce; step: StepOptions;
  ctrl: Int32Array; scalars: Float64Array; x: Float32Array; labels: Int32Array; grads: Float32Array; seq: number; subnets: Levels[];
}): void {
  // Everything main posted for this step is read before the barrier: after it, main may post the next step.
  const n = r.ctrl[CTRL.n]!;
  const lr = r.scalars[0]!;
  const inputSize = r.model.config.inputSize;
  const [start, end] = shareOf(n, r.rank, r.replicas);
  const parity = r.seq % 2;
  const total = r.grads.length / (2 * r.replicas);
  const slot = (rank: number) => r.grads.subarray((parity * r.replicas + rank) * total, (parity * r.replicas + rank + 1) * total);
  const batch: Batch = { x: r.x.subarray(start * inputSize, end * inputSize), labels: r.labels.subarray(start, end), n: end - start };
  // Variables no sampled subnet uses have no gradient, on every replica alike: they sit out the step.
  const { loss, grads } = computeGradients(r.model, batch, r.subnets, r.reduce, r.step);
  const mine = slot(r.rank);
  const vars = r.model.variables();
  let off = 0;
  vars.forEach((v, i) => {
    const g = grads[r.names[i]!];
    if (g) mine.set(g, off);
    off += v.size;
  });
  r.scalars[1 + parity * r.replicas + r.rank] = loss;
  // Barrier: every replica adds 1 per step.
  if (Atomics.add(r.ctrl, CTRL.arrived, 1) + 1 === r.replicas * r.seq) Atomics.notify(r.ctrl, CTRL.arrived);
  waitFor(r.ctrl, CTRL.arrived, r.replicas * r.seq);
  // Average, weighting each replica by its rows, in rank order so every replica gets the same
  // bits. The arithmetic runs in wasm; the slots are only copied in.
  const weights = Array.from({ length: r.replicas }, (_, k) => { const [s, e] = shareOf(n, k, r.replicas); return (e - s) / n; });
  const slots = Array.from({ length: r.replicas }, (_, k) => slot(k));
  tf.tidy(() => {
    const map: Record<string, tf.Tensor> = {};
    let o = 0;
    for (const [i, v] of vars.entries()) {
      if (!grads[r.names[i]!]) {
        o += v.size;
        continue;
      }
      let acc: tf.Tensor | undefined;
      for (let k = 0; k < r.replicas; k++) {
        const part = tf.mul(tf.tensor(slots[k]!.subarray(o, o + v.size), v.shape), weights[k]!);
        acc = acc ? tf.add(acc, part) : part;
      }
      map[v.name] = acc!;
      o += v.size;
    }
    (r.optimizer as unknown as { learningRate: number }).learningRate = lr;
    r.optimizer.applyGradients(map);
  });
}

/**
 * Start replica-worker.js; from TypeScript sources (tsx), register tsx inside the worker
 * first, since Node 20 workers do not run the parent's `--import` hooks.
 */
function spawnWorker(workerData: ReplicaInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./replica-worker.js', import.meta.url), { workerData });
  const entry = new URL('./replica-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData });
}

/** The calling thread (replica 0) plus `replicas - 1` worker threads. */
export class ReplicaGroup {
  private seq = 0;
  private readonly workers: Worker[];
  private readonly ctrl: Int32Array;
  private readonly scalars: Float64Array;
  private readonly x: Float32Array;
  private readonly labels: Int32Array;
  private readonly grads: Float32Array;
  private readonly errors: Error[] = [];

  private constructor(
    private readonly model: SortedMlp,
    private readonly optimizer: tf.Optimizer,
    private readonly lattice: Levels[],
    private readonly reduce: Reduce,
    private readonly stepOptions: StepOptions,
    private readonly replicas: number,
    init: Omit<ReplicaInit, 'rank'>,
  ) {
    this.ctrl = new Int32Array(init.ctrl);
    this.scalars = new Float64Array(init.scalars);
    this.x = new Float32Array(init.x);
    this.labels = new Int32Array(init.labels);
    this.grads = new Float32Array(init.grads);
    this.workers = Array.from({ length: replicas - 1 }, (_, i) => {
      const w = spawnWorker({ ...init, rank: i + 1 });
      w.on('error', (err) => this.errors.push(err));
      return w;
    });
  }

  /**
   * Start the workers with copies of `model`'s current weights (and `optimizer`'s state when it
   * is an AdamW; workers always run AdamW with `adam`); resolves when they are ready.
   */
  static async start(model: SortedMlp, optimizer: tf.Optimizer, adam: AdamConfig, lattice: Levels[], opts: { replicas: number; maxBatch: number; reduce: Reduce; step?: StepOptions }): Promise<ReplicaGroup> {
    const names = model.names();
    const total = model.variables().reduce((s, v) => s + v.size, 0);
    const step = opts.step ?? {};
    const optimizerState = optimizer instanceof AdamW ? optimizer.exportState(model.variables(), (_, i) => names[i]!) : undefined;
    const init: Omit<ReplicaInit, 'rank'> = {
      replicas: opts.replicas, tensors: model.toTensors(), names, lattice, adam, optimizerState, reduce: opts.reduce, step,
      ctrl: new SharedArrayBuffer(4 * (CTRL.subnets + MAX_G)),
      scalars: new SharedArrayBuffer(8 * (1 + 2 * opts.replicas)),
      x: new SharedArrayBuffer(4 * opts.maxBatch * model.config.inputSize),
      labels: new SharedArrayBuffer(4 * opts.maxBatch),
      grads: new SharedArrayBuffer(4 * 2 * opts.replicas * total),
    };
    const group = new ReplicaGroup(model, optimizer, lattice, opts.reduce, step, opts.replicas, init);
    await Promise.all(group.workers.map((w) => new Promise<void>((resolve, reject) => {
      w.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(String(m)))));
      w.once('error', reject);
    })));
    return group;
  }

  /** One data-parallel optimizer step on `batch` for the lattice entries `subnetIdx`; returns the mean loss. */
  step(batch: Batch, subnetIdx: number[], lr: number): number {
    if (this.errors.length) throw this.errors[0];
    if (subnetIdx.length > MAX_G) throw new Error(`at most ${MAX_G} subnets per step`);
    const inputSize = this.model.config.inputSize;
    this.x.set(batch.x.subarray(0, batch.n * inputSize));
    for (let i = 0; i < batch.n; i++) this.labels[i] = batch.labels[i]!;
    this.scalars[0] = lr;
    this.ctrl[CTRL.n] = batch.n;
    this.ctrl[CTRL.g] = subnetIdx.length;
    subnetIdx.forEach((s, i) => (this.ctrl[CTRL.subnets + i] = s));
    this.ctrl[CTRL.command] = CMD.step;
    this.seq++;
    Atomics.store(this.ctrl, CTRL.seq, this.seq);
    Atomics.notify(this.ctrl, CTRL.seq);
    replicaStep({
      rank: 0, replicas: this.replicas, model: this.model, optimizer: this.optimizer, names: this.model.names(), reduce: this.reduce, step: this.stepOptions,
      ctrl: this.ctrl, scalars: this.scalars, x: this.x, labels: this.labels, grads: this.grads, seq: this.seq,
      subnets: subnetIdx.map((i) => this.lattice[i]!),
    });
    const parity = this.seq % 2;
    let loss = 0;
    for (let k = 0; k < this.replicas; k++) {
      const [s, e] = shareOf(batch.n, k, this.replicas);
      loss += (this.scalars[1 + parity * this.replicas + k]! * (e - s)) / batch.n;
    }
    return loss;
  }

  /** Stop the workers; resolves with each worker's final weights (for checks). */
  async stop(): Promise<Record<string, NamedTensor>[]> {
    const done = this.workers.map((w) => new Promise<Record<string, NamedTensor>>((resolve) => {
      w.once('message', (m) => resolve(m as Record<string, NamedTensor>));
      w.once('exit', () => resolve({}));
    }));
    this.ctrl[CTRL.command] = CMD.stop;
    this.seq++;
    Atomics.store(this.ctrl, CTRL.seq, this.seq);
    Atomics.notify(this.ctrl, CTRL.seq);
    const weights = await Promise.all(done);
    await Promise.all(this.workers.map((w) => w.terminate()));
    return weights;
  }
}
