/**
 * Sorted MLP: `depth` hidden layers of `hidden` units with ReLU, then a shared classifier head.
 * Subnet (d, w) uses the first d hidden layers and the first u = widthUnits(w, hidden) units
 * of each: layer 0 uses W[:, :u], layer i > 0 uses W[:u, :u], biases b[:u], and the head
 * uses head.weight[:u, :].
 *
 * Checkpoint tensor names (a contract with the packager):
 * `layers.{i}.weight` [in, out], `layers.{i}.bias` [out], `head.weight` [hidden, classes],
 * `head.bias` [classes].
 *
 * @example
 * const model = SortedMlp.init({ inputSize: 784, hidden: 512, classes: 10 }, 3, new Rng(0));
 * const logits = forwardSubnet(model, { depth: 2, width: 0.5 }, pixels, n); // Float32Array [n * 10]
 * mlpMacs(model.config, { depth: 2, width: 0.5 }); // 784*256 + 256*256 + 256*10 = 268800
 */
import * as tf from '@tensorflow/tfjs-core';
import { SortedNetError } from '../../runtime/errors.js';
import type { NamedTensor } from '../checkpoint.js';
import { Rng } from '../rng.js';
import { widthUnits, type Levels, type MlpConfig } from '../spec.js';
import { dense, leading } from './dense.js';

interface DenseVars {
  weight: tf.Variable<tf.Rank.R2>;
  bias: tf.Variable<tf.Rank.R1>;
}

/** The resolved shape of one subnet. */
export interface MlpSubnetShape {
  /** Hidden layers used. */
  depth: number;
  /** Units kept per hidden layer. */
  units: number;
}

function badLevels(field: string, found: string, fix: string): never {
  throw new SortedNetError({ code: 'UNKNOWN_SUBNET', file: '<api>', field: `levels.${field}`, found, fix });
}

/** Depth and units for `levels` (missing dims mean the full network). */
export function resolveLevels(config: MlpConfig, maxDepth: number, levels: Levels): MlpSubnetShape {
  const depth = levels.depth ?? maxDepth;
  const width = levels.width ?? 1;
  if (!Number.isInteger(depth) || depth < 1 || depth > maxDepth) badLevels('depth', String(depth), `use a whole number from 1 to ${maxDepth}`);
  if (!(width > 0 && width <= 1)) badLevels('width', String(width), 'use a fraction in (0, 1]');
  for (const dim of Object.keys(levels)) if (dim !== 'depth' && dim !== 'width') badLevels(dim, 'a dim the MLP does not nest', 'use depth and width');
  return { depth, units: widthUnits(width, config.hidden) };
}

/** Parameters subnet `levels` uses (weights and biases, head included). */
export function mlpParams(config: MlpConfig, levels: Levels, maxDepth = levels.depth ?? 1): number {
  const { depth, units: u } = resolveLevels(config, maxDepth, levels);
  return config.inputSize * u + u + (depth - 1) * (u * u + u) + u * config.classes + config.classes;
}

/** Multiply-accumulates per example: the sum over matmuls (head included). */
export function mlpMacs(config: MlpConfig, levels: Levels, maxDepth = levels.depth ?? 1): number {
  const { depth, units: u } = resolveLevels(config, maxDepth, levels);
  return config.inputSize * u + (depth - 1) * u * u + u * config.classes;
}

/** He-uniform initial weights, zero biases, from a seeded generator (identical on every backend). */
export function initMlpTensors(config: MlpConfig, depth: number, rng: Rng): Record<string, NamedTensor> {
  const out: Record<string, NamedTensor> = {};
  const init = (fanIn: number, fanOut: number, gain: number): NamedTensor => {
    const bound = gain * Math.sqrt(3 / fanIn);
    const data = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-bound, bound);
    return { dims: [fanIn, fanOut], data };
  };
  for (let i = 0; i < depth; i++) {
    out[`layers.${i}.weight`] = init(i === 0 ? config.inputSize : config.hidden, config.hidden, Math.SQRT2);
    out[`layers.${i}.bias`] = { dims: [config.hidden], data: new Float32Array(config.hidden) };
  }
  out['head.weight'] = init(config.hidden, config.classes, 1);
  out['head.bias'] = { dims: [config.classes], data: new Float32Array(config.classes) };
  return out;
}

/** Config and depth implied by checkpoint tensors; throws BAD_CHECKPOINT naming the missing or misshaped tensor. */
export function mlpShapeOf(tensors: Record<string, NamedTensor>, file = '<api>'): { config: MlpConfig; depth: number } {
  const fail = (field: string, found: string): never => {
    throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field, found, fix: 'use a checkpoint written by `sortednet train --arch mlp`' });
  };
  const head = tensors['head.weight'] ?? fail('head.weight', 'missing');
  const first = tensors['layers.0.weight'] ?? fail('layers.0.weight', 'missing');
  if (head.dims.length !== 2 || first.dims.length !== 2) fail('layers.0.weight', `shapes ${JSON.stringify(first.dims)} and head ${JSON.stringify(head.dims)}`);
  const config: MlpConfig = { inputSize: first.dims[0]!, hidden: first.dims[1]!, classes: head.dims[1]! };
  let depth = 0;
  while (tensors[`layers.${depth}.weight`]) depth++;
  const expect: Record<string, number[]> = { 'head.weight': [config.hidden, config.classes], 'head.bias': [config.classes] };
  for (let i = 0; i < depth; i++) {
    expect[`layers.${i}.weight`] = [i === 0 ? config.inputSize : config.hidden, config.hidden];
    expect[`layers.${i}.bias`] = [config.hidden];
  }
  for (const [name, dims] of Object.entries(expect)) {
    const t = tensors[name] ?? fail(name, 'missing');
    if (JSON.stringify(t.dims) !== JSON.stringify(dims)) fail(`${name}.shape`, `${JSON.stringify(t.dims)} (expected ${JSON.stringify(dims)})`);
  }
  return { config, depth };
}

/** The trainable sorted MLP: tf variables plus the sliced forward pass. Call `dispose()` when done. */
export class SortedMlp {
  readonly config: MlpConfig;
  /** Hidden layers in the full network. */
  readonly depth: number;
  readonly layers: DenseVars[];
  readonly head: DenseVars;

  private constructor(config: MlpConfig, depth: number, tensors: Record<string, NamedTensor>, trainable: boolean) {
    this.config = config;
    this.depth = depth;
    // Variable names are global in tfjs, so they get unique generated names; `names()` maps them.
    const v2 = (name: string) => tf.variable(tf.tensor2d(tensors[name]!.data, tensors[name]!.dims as [number, number]), trainable);
    const v1 = (name: string) => tf.variable(tf.tensor1d(tensors[name]!.data), trainable);
    // tf.variable copies; the temporary tensors are released by the tidy.
    const vars = tf.tidy(() => {
      const layers = Array.from({ length: depth }, (_, i) => ({ weight: v2(`layers.${i}.weight`), bias: v1(`layers.${i}.bias`) }));
      return { layers, head: { weight: v2('head.weight'), bias: v1('head.bias') } };
    });
    this.layers = vars.layers;
    this.head = vars.head;
  }

  static init(config: MlpConfig, depth: number, rng: Rng): SortedMlp {
    return new SortedMlp(config, depth, initMlpTensors(config, depth, rng), true);
  }

  static fromTensors(tensors: Record<string, NamedTensor>, opts: { trainable?: boolean; file?: string } = {}): SortedMlp {
    const { config, depth } = mlpShapeOf(tensors, opts.file);
    return new SortedMlp(config, depth, tensors, opts.trainable ?? false);
  }

  /** Every variable, in the order of `names()`. */
  variables(): tf.Variable[] {
    return [...this.layers.flatMap((l) => [l.weight, l.bias]), this.head.weight, this.head.bias];
  }

  /** Checkpoint tensor names, parallel to `variables()`. */
  names(): string[] {
    return [...this.layers.flatMap((_, i) => [`layers.${i}.weight`, `layers.${i}.bias`]), 'head.weight', 'head.bias'];
  }

  /** Map tfjs variable names (as in optimizer gradients) to checkpoint tensor names. */
  tensorName(variableName: string): string | undefined {
    const i = this.variables().findIndex((v) => v.name === variableName);
    return i < 0 ? undefined : this.names()[i];
  }

  /** Logits [n, classes] of subnet `levels` for x [n, inputSize]. Differentiable w.r.t. the variables. */
  forward(x: tf.Tensor2D, levels: Levels): tf.Tensor2D {
    const { depth, units } = resolveLevels(this.config, this.depth, levels);
    return this.forwardDepths(x, units, [depth])[0]!;
  }

  /**
   * The first hidden layer's activations at `units` units. A narrower subnet's are their leading
   * columns (layer 0 reads the whole input), so one step can compute them once for all its
   * widths and pass them to `forwardDepths`.
   */
  firstLayer(x: tf.Tensor2D, units: number): tf.Tensor2D {
    const l = this.layers[0]!;
    return dense(x, l.weight, l.bias, 'relu', { cols: units, inputGrad: false });
  }

  /**
   * Logits for several depths at one width in one pass: the head is applied to the
   * activations after each requested depth. Returns one tensor per entry of `depths`.
   * `first`: `firstLayer(x, u)` for some u >= units, to start from (its leading columns).
   */
  forwardDepths(x: tf.Tensor2D, units: number, depths: number[], first?: tf.Tensor2D): tf.Tensor2D[] {
    const out = new Map<number, tf.Tensor2D>();
    const maxDepth = Math.max(...depths);
    let h = x;
    for (let i = 0; i < maxDepth; i++) {
      const l = this.layers[i]!;
      h = i === 0
        ? (first ? leading(first, units) : this.firstLayer(x, units))
        : dense(h, l.weight, l.bias, 'relu', { rows: units, cols: units });
      if (depths.includes(i + 1)) out.set(i + 1, dense(h, this.head.weight, this.head.bias, 'linear', { rows: units }));
    }
    return depths.map((d) => out.get(d)!);
  }

  /** Current weights as checkpoint tensors (copies). */
  toTensors(): Record<string, NamedTensor> {
    const out: Record<string, NamedTensor> = {};
    const names = this.names();
    this.variables().forEach((v, i) => (out[names[i]!] = { dims: [...v.shape], data: v.dataSync() as Float32Array }));
    return out;
  }

  dispose(): void {
    for (const v of this.variables()) v.dispose();
  }
}

/**
 * Pure forward pass of one subnet, computed with tfjs: logits [n, classes] for x [n, inputSize].
 * `weights` is either checkpoint tensors (e.g. `readCheckpoint(...).tensors`) or a live model.
 * Leaves no tensors behind.
 */
export function forwardSubnet(weights: Record<string, NamedTensor> | SortedMlp, levels: Levels, x: Float32Array, n: number): Float32Array {
  const model = weights instanceof SortedMlp ? weights : SortedMlp.fromTensors(weights);
  try {
    const { inputSize } = model.config;
    if (!Number.isInteger(n) || n < 0 || x.length !== n * inputSize) {
      throw new SortedNetError({ code: 'BAD_INPUT', file: '<api>', field: 'x', found: `${x.length} values for n=${n}`, fix: `pass n * ${inputSize} floats (row-major [n, ${inputSize}])` });
    }
    // Read the logits inside the tidy but return them outside: tidy walks a returned typed array element by element.
    let out: Float32Array = new Float32Array(0);
    tf.tidy(() => void (out = model.forward(tf.tensor2d(x, [n, inputSize]), levels).dataSync() as Float32Array));
    return out;
  } finally {
    if (model !== weights) model.dispose();
  }
}
