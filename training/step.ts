/**
 * One SortedNet optimizer step: the g sampled subnets run on the same mini-batch, their
 * cross-entropy losses are averaged (or summed, see TrainConfig.reduce), one backward pass
 * accumulates every subnet's gradient into the shared weights, and Adam takes one step.
 * The body runs in tf.tidy: a step leaves no tensors behind (after Adam's first step has
 * created its moment variables).
 *
 * @example
 * const loss = trainStep(model, optimizer, { x, labels, n: 128 }, [{ depth: 3, width: 1 }, { depth: 1, width: 0.25 }]);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Reduce } from './config.js';
import { softmaxCrossEntropy, scaledSum } from './models/loss.js';
import type { SortedMlp } from './models/mlp.js';
import type { Levels } from './spec.js';

export interface Batch {
  /** Row-major [n, inputSize] inputs. */
  x: Float32Array;
  /** Class per example. */
  labels: Uint8Array | Int32Array;
  n: number;
}

/** Batch tensors: x [n, inputSize] and one-hot targets [n, classes]. */
export function batchTensors(batch: Batch, inputSize: number, classes: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = tf.tensor2d(batch.x.subarray(0, batch.n * inputSize), [batch.n, inputSize]);
  const y = tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(batch.labels.subarray(0, batch.n)), 'int32'), classes), 'float32') as tf.Tensor2D;
  return { x, y };
}

/** Combined loss of the subnets on one batch (differentiable). */
export function sortedLoss(model: SortedMlp, x: tf.Tensor2D, y: tf.Tensor2D, subnets: readonly Levels[], reduce: Reduce): tf.Scalar {
  const losses = subnets.map((levels) => softmaxCrossEntropy(model.forward(x, levels), y));
  return scaledSum(losses, reduce === 'mean' ? 1 / subnets.length : 1);
}

/** One optimizer step; returns the mean loss over the sampled subnets (before the update). */
export function trainStep(model: SortedMlp, optimizer: tf.Optimizer, batch: Batch, subnets: readonly Levels[], reduce: Reduce = 'mean'): number {
  return tf.tidy(() => {
    const { x, y } = batchTensors(batch, model.config.inputSize, model.config.classes);
    const cost = optimizer.minimize(() => sortedLoss(model, x, y, subnets, reduce), true, model.variables())!;
    const value = cost.dataSync()[0]!;
    return reduce === 'mean' ? value : value / subnets.length;
  });
}

/**
 * Gradients of the combined loss w.r.t. every variable, as plain arrays keyed by checkpoint
 * tensor name (no optimizer step).
 * Used by data-parallel workers, which each take part of the batch; the caller averages.
 */
export function computeGradients(model: SortedMlp, batch: Batch, subnets: readonly Levels[], reduce: Reduce = 'mean'): { loss: number; grads: Record<string, Float32Array> } {
  // Arrays are filled inside the tidy but not returned from it: tidy walks its result
  // element by element looking for tensors, which costs seconds for a million floats.
  const out: Record<string, Float32Array> = {};
  const loss = tf.tidy(() => {
    const { x, y } = batchTensors(batch, model.config.inputSize, model.config.classes);
    const { value, grads } = tf.variableGrads(() => sortedLoss(model, x, y, subnets, reduce), model.variables());
    for (const [name, g] of Object.entries(grads)) out[model.tensorName(name) ?? name] = g.dataSync() as Float32Array;
    return value.dataSync()[0]!;
  });
  return { loss: reduce === 'mean' ? loss : loss / subnets.length, grads: out };
}
