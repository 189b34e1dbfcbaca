/**
 * Sorted ResNet-style CNN for small images (NHWC). The layer plan lives in
 * runtime/graphs/cnn.ts, shared with the packager and the runtime; this file holds the
 * trainable variables and the sliced forward pass.
 *
 * Subnet (d, w) keeps the first d residual blocks of every stage (block 0, which
 * downsamples, always) and the first round(w * C) channels of every conv, stem and head
 * input included. Training normalizes with batch statistics; inference uses per-subnet
 * statistics measured after training by `calibrate` (see docs/cnn.md for why).
 *
 * Checkpoint tensors (conv weights HWIO, i.e. [kh, kw, in, out]):
 * `stem.conv.weight`, `stem.bn.weight|bias`,
 * `stages.{s}.blocks.{b}.conv1.weight`, `.bn1.weight|bias`, `.conv2.weight`, `.bn2.weight|bias`,
 * `stages.{s}.blocks.0.shortcut.conv.weight`, `.shortcut.bn.weight|bias`,
 * `head.weight` [C_last, classes], `head.bias`, and statistics `{bn}.stats.{key}.mean|var`.
 *
 * @example
 * const model = SortedCnn.init({ imageSize: 28, inChannels: 1, classes: 10, channels: 16, stages: 2, blocks: 4, stemStride: 2 }, new Rng(0));
 * const logits = model.forward(x, { depth: 2, width: 0.5 });             // training mode, x [n, 784]
 * model.calibrate(train.images, 2048, latticeOf({ depth: [1, 2, 3, 4], width: [0.5, 1] }));
 * const out = model.forward(x, { depth: 2, width: 0.5 }, { mode: 'eval' }); // per-subnet statistics
 */
import * as tf from '@tensorflow/tfjs-core';
import { SortedNetError } from '../../runtime/errors.js';
import {
  bnStatsKey, CNN_CONFIG_KEYS, cnnConvs, convChannels, headChannels, resolveCnnLevels, widthUnits,
  type CnnConfig, type CnnConv,
} from '../../runtime/graphs/cnn.js';
import type { NamedTensor } from '../checkpoint.js';
// Gradients for Slice and Mean (the tape outside the custom-gradient ops).
import '../grads.js';
import { registerWasmKernels } from '../kernels/index.js';
import type { Rng } from '../rng.js';
import type { Levels } from '../spec.js';
import { batchNormEval, batchNormRecord, batchNormTrain, type BnActivation } from './batchnorm.js';
import { conv2d, conv2dNoInputGrad } from './conv.js';
import { dense } from './dense.js';

export type { CnnConfig } from '../../runtime/graphs/cnn.js';

/**
 * `train`: batch statistics, differentiable (what a training step uses).
 * `eval`: the subnet's calibrated statistics (what the packed model computes).
 */
export type CnnMode = 'train' | 'eval';

export interface ForwardOptions {
  /** @defaultValue 'train' */
  mode?: CnnMode;
}

/** Population statistics of one batch norm for one key, as plain arrays. */
export interface BnStats {
  mean: Float32Array;
  variance: Float32Array;
}

const STATS_NAME = /^(.+)\.stats\.([dw0-9-]+)\.(mean|var)$/;

function badLevels(field: string, found: string, fix: string): never {
  throw new SortedNetError({ code: 'UNKNOWN_SUBNET', file: '<api>', field: `levels.${field}`, found, fix });
}

/** Depth and width of `levels`, checked against the config. */
export function resolveLevels(config: CnnConfig, levels: Levels): { depth: number; width: number } {
  for (const dim of Object.keys(levels)) if (dim !== 'depth' && dim !== 'width') badLevels(dim, 'a dim the CNN does not nest', 'use depth and width');
  const { depth, width } = resolveCnnLevels(config, levels);
  if (!Number.isInteger(depth) || depth < 1 || depth > config.blocks) badLevels('depth', String(depth), `use a whole number from 1 to ${config.blocks}`);
  if (!(width > 0 && width <= 1)) badLevels('width', String(width), 'use a fraction in (0, 1]');
  return { depth, width };
}

/** Trainable parameters of subnet `levels`: conv weights, batch-norm scale and shift, head. */
export function cnnParams(config: CnnConfig, levels: Levels): number {
  const { depth, width } = resolveLevels(config, levels);
  let n = 0;
  for (const conv of cnnConvs(config)) {
    if (conv.block >= depth) continue;
    const { cin, cout } = convChannels(conv, width);
    n += conv.kernel * conv.kernel * cin * cout + 2 * cout;
  }
  return n + widthUnits(width, headChannels(config)) * config.classes + config.classes;
}

/** Checks a config: known keys, positive integers, an image that survives the downsampling. */
export function checkCnnConfig(config: Record<string, unknown>, file = '<api>', fieldPrefix = 'config'): CnnConfig {
  const fail = (field: string, found: string, fix: string): never => {
    throw new SortedNetError({ code: file === '<api>' ? 'BAD_OPTION' : 'BAD_CHECKPOINT', file, field: `${fieldPrefix}.${field}`, found, fix });
  };
  for (const k of Object.keys(config)) if (!(CNN_CONFIG_KEYS as readonly string[]).includes(k)) fail(k, 'unknown key', `use ${CNN_CONFIG_KEYS.join(', ')}`);
  for (const k of CNN_CONFIG_KEYS) {
    const v = config[k];
    if (!Number.isSafeInteger(v) || (v as number) < 1) fail(k, JSON.stringify(v), 'use a positive integer');
  }
  const c = config as unknown as CnnConfig;
  if (c.stemStride !== 1 && c.stemStride !== 2) fail('stemStride', String(c.stemStride), 'use 1 or 2');
  if (c.imageSize < 2 ** c.stages) fail('imageSize', String(c.imageSize), `use at least ${2 ** c.stages} pixels for ${c.stages} stride-2 stages, or fewer stages`);
  return c;
}

/** Expected shape of every weight tensor (statistics not included). */
export function cnnWeightShapes(config: CnnConfig): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const conv of cnnConvs(config)) {
    out.set(`${conv.name}.weight`, [conv.kernel, conv.kernel, conv.inChannels, conv.outChannels]);
    out.set(`${conv.bn}.weight`, [conv.outChannels]);
    out.set(`${conv.bn}.bias`, [conv.outChannels]);
  }
  out.set('head.weight', [headChannels(config), config.classes]);
  out.set('head.bias', [config.classes]);
  return out;
}

/** He-uniform conv and head weights, BN scale 1 (0 for each block's last BN) and shift 0. */
export function initCnnTensors(config: CnnConfig, rng: Rng): Record<string, NamedTensor> {
  const out: Record<string, NamedTensor> = {};
  const uniform = (dims: number[], fanIn: number, gain: number): NamedTensor => {
    const bound = gain * Math.sqrt(3 / fanIn);
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-bound, bound);
    return { dims, data };
  };
  for (const conv of cnnConvs(config)) {
    const k = conv.kernel;
    out[`${conv.name}.weight`] = uniform([k, k, conv.inChannels, conv.outChannels], k * k * conv.inChannels, Math.SQRT2);
    // Zero-init the last BN of each residual branch: every block starts as its shortcut, so
    // the deep subnets start out as good as the shallow ones.
    out[`${conv.bn}.weight`] = { dims: [conv.outChannels], data: new Float32Array(conv.outChannels).fill(conv.role === 'conv2' ? 0 : 1) };
    out[`${conv.bn}.bias`] = { dims: [conv.outChannels], data: new Float32Array(conv.outChannels) };
  }
  const c = headChannels(config);
  out['head.weight'] = uniform([c, config.classes], c, 1);
  out['head.bias'] = { dims: [config.classes], data: new Float32Array(config.classes) };
  return out;
}

/** Running sums for one batch norm's population statistics. */
class StatsSum {
  readonly sum: Float64Array;
  readonly sumSq: Float64Array;
  count = 0;
  constructor(channels: number) {
    this.sum = new Float64Array(channels);
    this.sumSq = new Float64Array(channels);
  }
  add(mean: Float32Array, variance: Float32Array, m: number): void {
    for (let c = 0; c < mean.length; c++) {
      this.sum[c]! += m * mean[c]!;
      this.sumSq[c]! += m * (variance[c]! + mean[c]! * mean[c]!);
    }
    this.count += m;
  }
  result(): BnStats {
    const mean = new Float32Array(this.sum.length);
    const variance = new Float32Array(this.sum.length);
    for (let c = 0; c < mean.length; c++) {
      const mu = this.sum[c]! / this.count;
      mean[c] = mu;
      variance[c] = Math.max(0, this.sumSq[c]! / this.count - mu * mu);
    }
    return { mean, variance };
  }
}

/** How one forward pass normalizes: batch stats (train), stored stats (eval), or batch stats recorded (calibrate). */
type Norm =
  | { kind: 'train' }
  | { kind: 'eval'; stats: Map<string, BnStats> }
  | { kind: 'calibrate'; sums: Map<string, StatsSum> };

/** The trainable sorted CNN: tf variables, per-subnet BN statistics, the sliced forward pass. Call `dispose()` when done. */
export class SortedCnn {
  readonly arch = 'cnn' as const;
  readonly config: CnnConfig;
  /** Blocks per stage in the full network (the largest depth level). */
  readonly depth: number;
  readonly convs: readonly CnnConv[];
  private readonly vars: Map<string, tf.Variable>;
  /** BN statistics by `{bn}.stats.{key}` (see bnStatsKey), filled by `calibrate` or a checkpoint. */
  readonly stats = new Map<string, BnStats>();

  private constructor(config: CnnConfig, tensors: Record<string, NamedTensor>, trainable: boolean, file: string) {
    registerWasmKernels();
    this.config = config;
    this.depth = config.blocks;
    this.convs = cnnConvs(config);
    const shapes = cnnWeightShapes(config);
    const fail = (field: string, found: string): never => {
      throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field, found, fix: 'use a checkpoint written by `sortednet train --arch cnn` with this sortednet.config' });
    };
    for (const [name, dims] of shapes) {
      const t = tensors[name] ?? fail(name, 'missing');
      if (t.dims.join() !== dims.join()) fail(`${name}.shape`, `${JSON.stringify(t.dims)} (expected ${JSON.stringify(dims)})`);
    }
    // Variable names are global in tfjs, so they get unique generated names; `names()` maps them.
    this.vars = new Map();
    for (const name of shapes.keys()) {
      const t = tf.tensor(tensors[name]!.data, tensors[name]!.dims);
      this.vars.set(name, tf.variable(t, trainable));
      t.dispose(); // tf.variable copies
    }
    for (const [name, t] of Object.entries(tensors)) {
      const m = STATS_NAME.exec(name);
      if (!m) continue;
      const key = `${m[1]}.stats.${m[2]}`;
      const s = this.stats.get(key) ?? { mean: new Float32Array(t.data.length), variance: new Float32Array(t.data.length) };
      if (m[3] === 'mean') s.mean = t.data.slice();
      else s.variance = t.data.slice();
      this.stats.set(key, s);
    }
  }

  static init(config: CnnConfig, rng: Rng): SortedCnn {
    return new SortedCnn(checkCnnConfig({ ...config }), initCnnTensors(config, rng), true, '<api>');
  }

  /** A model from checkpoint tensors and its `sortednet.config`. */
  static fromTensors(tensors: Record<string, NamedTensor>, config: CnnConfig | Record<string, unknown>, opts: { trainable?: boolean; file?: string } = {}): SortedCnn {
    const file = opts.file ?? '<api>';
    return new SortedCnn(checkCnnConfig({ ...config }, file, 'sortednet.config'), tensors, opts.trainable ?? false, file);
  }

  /** Every variable, in the order of `names()`. */
  variables(): tf.Variable[] {
    return [...this.vars.values()];
  }

  /** Checkpoint tensor names, parallel to `variables()` (statistics are not variables). */
  names(): string[] {
    return [...this.vars.keys()];
  }

  /** Map tfjs variable names (as in optimizer gradients) to checkpoint tensor names. */
  tensorName(variableName: string): string | undefined {
    for (const [name, v] of this.vars) if (v.name === variableName) return name;
    return undefined;
  }

  /** The variable holding checkpoint tensor `name` (e.g. `stem.conv.weight`). */
  weight(name: string): tf.Variable | undefined {
    return this.vars.get(name);
  }

  private v<R extends tf.Rank>(name: string): tf.Variable<R> {
    return this.vars.get(name)! as tf.Variable<R>;
  }

  /** Logits [n, classes] of subnet `levels` for x [n, H*W*C] (NHWC rows) or [n, H, W, C]. */
  forward(x: tf.Tensor2D | tf.Tensor4D, levels: Levels, opts: ForwardOptions = {}): tf.Tensor2D {
    const { depth, width } = resolveLevels(this.config, levels);
    return this.forwardDepths(x, width, [depth], opts)[0]!;
  }

  /**
   * Logits for several depths at one width. Stage 0 (which no depth cut changes) runs once
   * with the deepest depth; later stages run once per depth. Returns one tensor per depth.
   */
  forwardDepths(x: tf.Tensor2D | tf.Tensor4D, width: number, depths: number[], opts: ForwardOptions = {}): tf.Tensor2D[] {
    const mode = opts.mode ?? 'train';
    return this.run(x, width, depths, mode === 'train' ? { kind: 'train' } : { kind: 'eval', stats: this.stats });
  }

  private run(x: tf.Tensor2D | tf.Tensor4D, width: number, depths: number[], norm: Norm): tf.Tensor2D[] {
    for (const d of depths) resolveLevels(this.config, { depth: d, width });
    const { imageSize: s, inChannels } = this.config;
    const img = (x.rank === 4 ? x : tf.reshape(x, [x.shape[0], s, s, inChannels])) as tf.Tensor4D;
    const maxDepth = Math.max(...depths);
    const convOf = (stage: number, block: number, role: CnnConv['role']) => this.convs.find((c) => c.stage === stage && c.block === block && c.role === role)!;

    const convBn = (conv: CnnConv, h: tf.Tensor4D, depth: number, act: BnActivation, residual?: tf.Tensor4D): tf.Tensor4D => {
      const { cin, cout } = convChannels(conv, width);
      const w = this.slice4(this.v<tf.Rank.R4>(`${conv.name}.weight`), cin, cout);
      const y = conv.role === 'stem' ? conv2dNoInputGrad(h, w, conv.stride, conv.pad) : conv2d(h, w, conv.stride, conv.pad);
      const gamma = this.slice1(this.v<tf.Rank.R1>(`${conv.bn}.weight`), cout);
      const beta = this.slice1(this.v<tf.Rank.R1>(`${conv.bn}.bias`), cout);
      const key = `${conv.bn}.stats.${bnStatsKey(conv, depth, width)}`;
      if (norm.kind === 'train') return batchNormTrain(y, gamma, beta, act, residual);
      if (norm.kind === 'eval') {
        const st = norm.stats.get(key);
        if (!st || st.mean.length !== cout) {
          throw new SortedNetError({ code: 'BAD_CHECKPOINT', file: '<api>', field: `${key}.mean`, found: st ? `${st.mean.length} channels, expected ${cout}` : 'missing', fix: 'run model.calibrate(images, n, lattice) for this subnet, or load a checkpoint written after calibration' });
        }
        return batchNormEval(y, gamma, beta, tf.tensor1d(st.mean), tf.tensor1d(st.variance), act, residual);
      }
      return batchNormRecord(y, gamma, beta, act, (mean, variance) => {
        // Stage-0 keys ignore depth: record them once, from the shared prefix.
        let sum = norm.sums.get(key);
        if (!sum) norm.sums.set(key, (sum = new StatsSum(cout)));
        sum.add(mean.dataSync() as Float32Array, variance.dataSync() as Float32Array, y.shape[0] * y.shape[1] * y.shape[2]);
      }, residual);
    };

    const block = (stage: number, b: number, h: tf.Tensor4D, depth: number): tf.Tensor4D => {
      const a = convBn(convOf(stage, b, 'conv1'), h, depth, 'relu');
      const shortcut = b === 0 ? this.convs.find((c) => c.stage === stage && c.role === 'shortcut') : undefined;
      const skip = shortcut ? convBn(shortcut, h, depth, 'linear') : h;
      return convBn(convOf(stage, b, 'conv2'), a, depth, 'relu', skip);
    };

    // Stem and stage 0, keeping the output after each depth that was asked for.
    let h = convBn(convOf(-1, -1, 'stem'), img, maxDepth, 'relu');
    const afterStage0 = new Map<number, tf.Tensor4D>();
    for (let b = 0; b < maxDepth; b++) {
      h = block(0, b, h, maxDepth);
      if (depths.includes(b + 1)) afterStage0.set(b + 1, h);
    }
    const cl = widthUnits(width, headChannels(this.config));
    return depths.map((d) => {
      let z = afterStage0.get(d)!;
      for (let s = 1; s < this.config.stages; s++) for (let b = 0; b < d; b++) z = block(s, b, z, d);
      const pooled = tf.mean(z, [1, 2]) as tf.Tensor2D;
      return dense(pooled, this.v<tf.Rank.R2>('head.weight'), this.v<tf.Rank.R1>('head.bias'), 'linear', { rows: cl });
    });
  }

  private slice4(w: tf.Tensor4D, cin: number, cout: number): tf.Tensor4D {
    const [kh, kw, i, o] = w.shape;
    return cin === i && cout === o ? w : tf.slice(w, [0, 0, 0, 0], [kh, kw, cin, cout]);
  }

  private slice1(v: tf.Tensor1D, n: number): tf.Tensor1D {
    return n === v.shape[0] ? v : tf.slice(v, [0], [n]);
  }

  /**
   * Measure every subnet's batch-norm statistics on `n` images (NHWC rows, e.g. the first
   * training images): a forward pass in training mode per batch, accumulating per-channel
   * sums, so the population mean and variance are exact over those images. Replaces the
   * statistics of the subnets in `lattice`; leaves no tensors behind.
   */
  calibrate(images: Float32Array, n: number, lattice: readonly Levels[], opts: { batch?: number } = {}): void {
    const batch = opts.batch ?? 500;
    const per = this.config.imageSize * this.config.imageSize * this.config.inChannels;
    if (!(n >= 1) || images.length < n * per) {
      throw new SortedNetError({ code: 'BAD_INPUT', file: '<api>', field: 'images', found: `${images.length} values for n=${n}`, fix: `pass at least n * ${per} floats` });
    }
    const byWidth = new Map<number, Set<number>>();
    for (const levels of lattice) {
      const { depth, width } = resolveLevels(this.config, levels);
      byWidth.set(width, (byWidth.get(width) ?? new Set()).add(depth));
    }
    const sums = new Map<string, StatsSum>();
    for (const [width, depthSet] of byWidth) {
      const depths = [...depthSet].sort((a, b) => a - b);
      for (let start = 0; start < n; start += batch) {
        const m = Math.min(batch, n - start);
        tf.tidy(() => {
          const x = tf.tensor4d(images.subarray(start * per, (start + m) * per), [m, this.config.imageSize, this.config.imageSize, this.config.inChannels]);
          this.run(x, width, depths, { kind: 'calibrate', sums });
        });
      }
    }
    for (const [key, sum] of sums) this.stats.set(key, sum.result());
  }

  /** Current weights and statistics as checkpoint tensors (copies). */
  toTensors(): Record<string, NamedTensor> {
    const out: Record<string, NamedTensor> = {};
    for (const [name, v] of this.vars) out[name] = { dims: [...v.shape], data: v.dataSync() as Float32Array };
    for (const [key, s] of this.stats) {
      out[`${key}.mean`] = { dims: [s.mean.length], data: s.mean.slice() };
      out[`${key}.var`] = { dims: [s.variance.length], data: s.variance.slice() };
    }
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
  }
}

/**
 * Pure inference of one subnet with tfjs (calibrated statistics): logits [n, classes] for
 * x [n, H*W*C] (NHWC rows). Leaves no tensors behind.
 */
export function forwardCnnSubnet(model: SortedCnn, levels: Levels, x: Float32Array, n: number): Float32Array {
  const per = model.config.imageSize * model.config.imageSize * model.config.inChannels;
  if (!Number.isInteger(n) || n < 0 || x.length !== n * per) {
    throw new SortedNetError({ code: 'BAD_INPUT', file: '<api>', field: 'x', found: `${x.length} values for n=${n}`, fix: `pass n * ${per} floats (row-major [n, ${per}])` });
  }
  return tf.tidy(() => model.forward(tf.tensor2d(x, [n, per]), levels, { mode: 'eval' }).dataSync() as Float32Array);
}
