/**
 * Loss ops with hand-written gradients (tfjs-core alone registers no kernel gradients).
 *
 * @example
 * const loss = softmaxCrossEntropy(logits, oneHot); // scalar mean over the batch
 * const total = scaledSum([lossA, lossB], 0.5);    // (lossA + lossB) / 2
 */
import * as tf from '@tensorflow/tfjs-core';

/** Mean softmax cross-entropy of logits [n, classes] against fixed one-hot targets [n, classes]. */
export function softmaxCrossEntropy(logits: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  const n = logits.shape[0];
  const f = tf.customGrad((z, save) => {
    const logp = tf.logSoftmax(z as tf.Tensor2D);
    (save as tf.GradSaveFunc)([logp]);
    return {
      value: tf.div(tf.neg(tf.sum(tf.mul(logp, oneHot))), n) as tf.Scalar,
      // d/dz mean(-sum(y * logsoftmax(z))) = (softmax(z) - y) / n
      gradFunc: (dy, saved) => tf.mul(tf.div(tf.sub(tf.exp(saved[0]!), oneHot), n), dy as tf.Scalar),
    };
  });
  return f(logits) as tf.Scalar;
}

/** `scale * sum(xs)` of scalars, differentiable. */
export function scaledSum(xs: tf.Scalar[], scale: number): tf.Scalar {
  const f = tf.customGrad((...args) => {
    const inputs = args.slice(0, xs.length) as tf.Scalar[];
    return {
      value: tf.mul(tf.addN(inputs), scale) as tf.Scalar,
      gradFunc: (dy) => inputs.map(() => tf.mul(dy as tf.Scalar, scale)),
    };
  });
  return f(...xs) as tf.Scalar;
}

/** `sum_i weights[i] * xs[i]` of scalars, differentiable. */
export function weightedSum(xs: tf.Scalar[], weights: readonly number[]): tf.Scalar {
  const f = tf.customGrad((...args) => {
    const inputs = args.slice(0, xs.length) as tf.Scalar[];
    return {
      value: tf.addN(inputs.map((x, i) => tf.mul(x, weights[i]!))) as tf.Scalar,
      gradFunc: (dy) => inputs.map((_, i) => tf.mul(dy as tf.Scalar, weights[i]!)),
    };
  });
  return f(...xs) as tf.Scalar;
}
