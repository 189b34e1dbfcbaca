/**
 * One SortedNet optimizer step of the sorted MLP: the sampled subnets run on the same
 * mini-batch (subnets of one width share a forward pass, the head applied after each depth;
 * every width reads the first layer computed once at the widest),
 * their cross-entropy losses are averaged (or summed, see TrainConfig.reduce), optionally
 * distilled from the full subnet, one backward pass accumulates every subnet's gradient into
 * the shared weights, and the optimizer takes one step. See scheme/objective.ts.
 * The body runs in tf.tidy: a step leaves no tensors behind (after the optimizer's first step
 * has created its moment variables).
 *
 * @example
 * const loss = trainStep(model, optimizer, { x, labels, n: 128 }, [{ depth: 3, width: 1 }, { depth: 1, width: 0.25 }]);
 * trainStep(model, optimizer, batch, subnets, 'mean', { distill: { alpha: 0.5, temperature: 1 } });
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Reduce } from './config.js';
import { softmaxCrossEntropy } from './models/loss.js';
import type { SortedMlp } from './models/mlp.js';
import { applyTo, sortedStep, type StepObjective } from './scheme/objective.js';
import { passesOf } from './scheme/sampling.js';
import { widthUnits, type Levels } from './spec.js';

export interface Batch {
  /** Row-major [n, inputSize] inputs. */
  x: Float32Array;
  /** Class per example. */
  labels: Uint8Array | Int32Array;
  n: number;
}

export interface StepOptions {
  /** In-place distillation from the full subnet (weight α, temperature T). @defaultValue off */
  distill?: { alpha: number; temperature: number };
  /** Weight of a subnet's loss by its depth (the GPT's `exitWeights`). @defaultValue 1 for every depth */
  depthWeight?: (depth: number) => number;
  /** The largest subnet's loss counts this many times when it trains (`largestWeight`). @defaultValue 1 */
  largestWeight?: number;
  /**
   * Label smoothing ε: the hard targets become `(1 - ε) · one-hot + ε / classes` (the CNN's
   * `labelSmoothing`; the MLP step honours it too, the GPT's does not). @defaultValue 0
   */
  labelSmoothing?: number;
}

/** One-hot targets smoothed by ε (`smoothTargets(y, 0)` is y itself). */
export function smoothTargets(oneHot: tf.Tensor2D, epsilon: number): tf.Tensor2D {
  if (epsilon === 0) return oneHot;
  return tf.add(tf.mul(oneHot, 1 - epsilon), epsilon / oneHot.shape[1]) as tf.Tensor2D;
}

/** Batch tensors: x [n, inputSize] and one-hot targets [n, classes]. */
export function batchTensors(batch: Batch, inputSize: number, classes: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = tf.tensor2d(batch.x.subarray(0, batch.n * inputSize), [batch.n, inputSize]);
  const y = tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(batch.labels.subarray(0, batch.n)), 'int32'), classes), 'float32') as tf.Tensor2D;
  return { x, y };
}

/** The step's objective on tensors x and one-hot y. */
export function mlpObjective(model: SortedMlp, x: tf.Tensor2D, y: tf.Tensor2D, subnets: readonly Levels[], reduce: Reduce, opts: StepOptions = {}): StepObjective<tf.Tensor2D> {
  const passes = passesOf(subnets.map((s) => ({ depth: s.depth ?? model.depth, width: s.width ?? 1 })));
  const units = (levels: Levels): number => widthUnits(levels.width ?? 1, model.config.hidden);
  // The first layer reads the whole input, so a narrower pass's first activations are the
  // leading columns of the widest pass's: computed once, with one backward matmul for all.
  const widest = Math.max(...passes.map((p) => units(p.levels)));
  const targets = smoothTargets(y, opts.labelSmoothing ?? 0);
  return {
    variables: model.variables(),
    shared: passes.length > 1 ? () => model.firstLayer(x, widest) : undefined,
    forward: (levels, depths, first) => model.forwardDepths(x, units(levels), depths, first),
    hardLoss: (logits) => softmaxCrossEntropy(logits, targets),
    passes,
    scale: reduce === 'mean' ? 1 / passes.reduce((n, p) => n + p.depths.length, 0) : 1,
    full: { depth: model.depth, width: 1 },
    distill: opts.distill,
    largestWeight: opts.largestWeight,
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** One optimizer step; returns the mean cross-entropy over the sampled subnets (before the update). */
export function trainStep(model: SortedMlp, optimizer: tf.Optimizer, batch: Batch, subnets: readonly Levels[], reduce: Reduce = 'mean', opts: StepOptions = {}): number {
  return tf.tidy(() => {
    const { x, y } = batchTensors(batch, model.config.inputSize, model.config.classes);
    return mean(sortedStep(mlpObjective(model, x, y, subnets, reduce, opts), applyTo(optimizer)));
  });
}

/**
 * Gradients of the combined loss w.r.t. the variables some sampled subnet uses, as plain
 * arrays keyed by checkpoint tensor name (no optimizer step), and the mean cross-entropy.
 * Used by data-parallel workers, which each take part of the batch; the caller averages.
 */
export function computeGradients(model: SortedMlp, batch: Batch, subnets: readonly Levels[], reduce: Reduce = 'mean', opts: StepOptions = {}): { loss: number; grads: Record<string, Float32Array> } {
  // Arrays are filled inside the tidy but not returned from it: tidy walks its result
  // element by element looking for tensors, which costs seconds for a million floats.
  const out: Record<string, Float32Array> = {};
  const loss = tf.tidy(() => {
    const { x, y } = batchTensors(batch, model.config.inputSize, model.config.classes);
    return mean(sortedStep(mlpObjective(model, x, y, subnets, reduce, opts), (grads) => {
      for (const { name, tensor } of grads) if (tensor) out[model.tensorName(name) ?? name] = tensor.dataSync() as Float32Array;
    }));
  });
  return { loss, grads: out };
}
