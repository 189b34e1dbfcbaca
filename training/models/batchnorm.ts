/**
 * Batch norm over N, H and W of an NHWC tensor, fused with an optional residual add and ReLU:
 * `y = act(gamma * (x - mean) / sqrt(var + eps) + beta [+ residual])`.
 *
 * - `batchNormTrain` normalizes with the batch's own statistics and has a hand-written
 *   gradient (one pass, no tape through moments/rsqrt):
 *   dx = gamma * rstd * (g - mean(g) - xhat * mean(g * xhat)), dgamma = sum(g * xhat), dbeta = sum(g).
 * - `batchNormEval` uses given statistics (the subnet's, from calibration).
 *
 * Width nesting: gamma and beta are sliced like the conv outputs; the statistics are not
 * shared between widths or depths at all (see docs/cnn.md).
 *
 * @example
 * const y = batchNormTrain(x, gamma, beta, 'relu');             // conv -> BN -> ReLU
 * const z = batchNormTrain(x, gamma, beta, 'relu', shortcut);   // ... BN -> + shortcut -> ReLU
 * const { mean, variance } = batchStats(x);                     // what calibration accumulates
 */
import * as tf from '@tensorflow/tfjs-core';
import { BN_EPSILON } from '../../runtime/graphs/cnn.js';

export type BnActivation = 'relu' | 'linear';

/**
 * Per-channel sums of an NHWC tensor over N, H and W: an average pool over each whole image,
 * then a sum over the batch. tfjs-wasm reduces over leading axes by transposing them to the end
 * first; its pooling runs on NHWC as it is. On [128, 14, 14, 32]: `sum(x, [0, 1, 2])` 6.5 ms,
 * this 0.4 ms; on [128, 7, 7, 8] 0.5 against 0.03 ms (the 2-core test VM, 2026-12-03, beside two
 * training jobs).
 */
export function channelSums(x: tf.Tensor4D): tf.Tensor1D {
  const [n, h, w, c] = x.shape;
  const perImage = tf.reshape(tf.avgPool(x, [h, w], 1, 'valid'), [n, c]);
  return tf.mul(tf.sum(perImage, 0), h * w) as tf.Tensor1D;
}

/** Per-channel mean, x minus it, and the (biased) variance over N, H, W, in two passes. */
function centered(x: tf.Tensor4D): { mean: tf.Tensor1D; centered: tf.Tensor4D; variance: tf.Tensor1D } {
  const m = x.size / x.shape[3];
  const mean = tf.div(channelSums(x), m) as tf.Tensor1D;
  const c = tf.sub(x, mean) as tf.Tensor4D;
  return { mean, centered: c, variance: tf.div(channelSums(tf.square(c)), m) as tf.Tensor1D };
}

/** Per-channel mean and (biased) variance over N, H, W. */
export function batchStats(x: tf.Tensor4D): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const { mean, variance } = centered(x);
  return { mean, variance };
}

function finish(z: tf.Tensor4D, act: BnActivation, residual?: tf.Tensor4D): tf.Tensor4D {
  const r = residual ? tf.add(z, residual) : z;
  return (act === 'relu' ? tf.relu(r) : r) as tf.Tensor4D;
}

/** Training mode: normalize with batch statistics. Gradients for x, gamma, beta (and residual). */
export function batchNormTrain(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, act: BnActivation, residual?: tf.Tensor4D): tf.Tensor4D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [x, gamma, beta, res] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor4D | undefined];
    const { centered: c, variance } = centered(x);
    const rstd = tf.rsqrt(tf.add(variance, BN_EPSILON));
    const xhat = tf.mul(c, rstd) as tf.Tensor4D;
    const y = finish(tf.add(tf.mul(xhat, gamma), beta) as tf.Tensor4D, act, res);
    save([xhat, rstd, gamma, y]);
    return {
      value: y,
      gradFunc: (dy, saved) => {
        const [sxhat, srstd, sgamma, sy] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor4D];
        const g = act === 'relu' ? tf.mul(dy as tf.Tensor, tf.step(sy)) : (dy as tf.Tensor);
        const m = sxhat.shape[0] * sxhat.shape[1] * sxhat.shape[2];
        const dbeta = channelSums(g as tf.Tensor4D);
        const dgamma = channelSums(tf.mul(g, sxhat) as tf.Tensor4D);
        const centered = tf.sub(tf.sub(g, tf.div(dbeta, m)), tf.mul(sxhat, tf.div(dgamma, m)));
        const dx = tf.mul(centered, tf.mul(sgamma, srstd));
        return res ? [dx, dgamma, dbeta, g] : [dx, dgamma, dbeta];
      },
    };
  });
  return (residual ? f(x, gamma, beta, residual) : f(x, gamma, beta)) as tf.Tensor4D;
}

/** Inference mode: normalize with the given statistics. */
export function batchNormEval(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, mean: tf.Tensor1D, variance: tf.Tensor1D, act: BnActivation, residual?: tf.Tensor4D): tf.Tensor4D {
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPSILON)));
  const shift = tf.sub(beta, tf.mul(mean, scale));
  return finish(tf.add(tf.mul(x, scale), shift) as tf.Tensor4D, act, residual);
}

/** Normalize with the batch's statistics and hand them to `record` (calibration; no gradient). */
export function batchNormRecord(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, act: BnActivation, record: (mean: tf.Tensor1D, variance: tf.Tensor1D) => void, residual?: tf.Tensor4D): tf.Tensor4D {
  const { mean, variance } = batchStats(x);
  record(mean, variance);
  return batchNormEval(x, gamma, beta, mean, variance, act, residual);
}
