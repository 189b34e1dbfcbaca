/**
 * Held-out metrics of every subnet of a sorted CNN (calibrated statistics), and the
 * SubnetSpec entries of its checkpoint. All depths at one width share stage 0's pass, so the
 * lattice costs about one pass per width plus the later stages per depth.
 *
 * @example
 * model.calibrate(train.images, 2000, lattice);
 * const subnets = evaluateCnn(model, data.test, { depth: [1, 2, 3, 4], width: [0.25, 0.5, 1] });
 * subnets[0]; // { id: 'd1-w25', levels, params: 3214, macs: 160000, metrics: { accuracy: 0.81, loss: 0.52 } }
 */
import * as tf from '@tensorflow/tfjs-core';
import { cnnMacs } from '../runtime/graphs/cnn.js';
import type { Split } from './data/fashion-mnist.js';
import { cnnParams, type SortedCnn } from './models/cnn.js';
import { latticeOf, subnetId, type Dim, type Levels, type SubnetSpec } from './spec.js';

export interface CnnEvalOptions {
  /** Examples per forward pass. @defaultValue 500 */
  batch?: number;
  /** Evaluate on the first `limit` examples only. @defaultValue all */
  limit?: number;
}

/** The SubnetSpec (id, params, MACs) of `levels`, with the given metrics. */
export function cnnSubnetSpec(model: SortedCnn, dims: Partial<Record<Dim, number[]>>, levels: Levels, metrics: SubnetSpec['metrics']): SubnetSpec {
  return { id: subnetId(levels), levels, params: cnnParams(model.config, levels), macs: cnnMacs(model.config, dims, levels), metrics };
}

/** Accuracy and mean cross-entropy of each subnet of `dims`, in `latticeOf(dims)` order. Leaves no tensors behind. */
export function evaluateCnn(model: SortedCnn, split: Split, dims: Partial<Record<Dim, number[]>>, opts: CnnEvalOptions = {}): SubnetSpec[] {
  const depths = dims.depth ?? [model.depth];
  const widths = dims.width ?? [1];
  const batch = opts.batch ?? 500;
  const n = Math.min(split.n, opts.limit ?? split.n);
  const per = split.images.length / split.n;
  const correct = new Map<string, number>();
  const lossSum = new Map<string, number>();
  for (let start = 0; start < n; start += batch) {
    const m = Math.min(batch, n - start);
    tf.tidy(() => {
      const x = tf.tensor2d(split.images.subarray(start * per, (start + m) * per), [m, per]);
      const labels = tf.tensor1d(Int32Array.from(split.labels.subarray(start, start + m)), 'int32');
      const oneHot = tf.oneHot(labels, model.config.classes);
      for (const w of widths) {
        const logits = model.forwardDepths(x, w, depths, { mode: 'eval' });
        depths.forEach((d, i) => {
          const l = logits[i]!;
          const id = subnetId({ depth: d, width: w });
          const hits = tf.sum(tf.cast(tf.equal(tf.argMax(l, 1), labels), 'float32')).dataSync()[0]!;
          const nll = -tf.sum(tf.mul(tf.logSoftmax(l), oneHot)).dataSync()[0]!;
          correct.set(id, (correct.get(id) ?? 0) + hits);
          lossSum.set(id, (lossSum.get(id) ?? 0) + nll);
        });
      }
    });
  }
  const full = { ...dims, depth: depths, width: widths };
  return latticeOf(full).map((levels) => cnnSubnetSpec(model, full, levels, {
    accuracy: n ? correct.get(subnetId(levels))! / n : NaN,
    loss: n ? lossSum.get(subnetId(levels))! / n : NaN,
  }));
}
