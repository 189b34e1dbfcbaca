/**
 * In-place distillation: the largest subnet teaches the smaller ones on the same batch
 * (as in slimmable networks' in-place distillation, arXiv 1903.05134). The teacher's logits are
 * computed outside the gradient function, so no gradient reaches them (tf.stopGradient in
 * effect), then a student's loss is
 *
 *   (1 - α) · CE(student, labels) + α · T² · KL(softmax(teacher / T) || softmax(student / T))
 *
 * with the KL averaged over rows (examples or tokens). The T² factor (Hinton et al. 2015) keeps
 * the soft term's gradient the same size as T changes; at the default T = 1 it is 1.
 *
 * The KL is one customGrad op, `T · (softmax(z / T) - p) / n` backwards, and uses the Softmax
 * kernel but no Exp or Log over [n, classes] (slow on wasm for a vocabulary): log-sum-exp comes
 * from the softmax's largest entry, `lse = max(z) - log(max(softmax(z)))`.
 *
 * @example
 * const targets = tf.tidy(() => softTargets(model.forward(x, full), 2));  // outside the gradient function
 * const loss = distilled(softmaxCrossEntropy(z, y), z, targets, 0.5);    // inside it
 */
import * as tf from '@tensorflow/tfjs-core';
import { weightedSum } from '../models/loss.js';

type T2 = tf.Tensor2D;

/** The teacher's softened distribution, fixed for a step. */
export interface SoftTargets {
  /** softmax(teacher / T), [n, classes]. */
  probs: T2;
  /** sum over rows and classes of p · log p (minus the teacher's total entropy), a scalar. */
  plogp: tf.Scalar;
  temperature: number;
}

/** Row-wise log-sum-exp of `zt` given its softmax `q` (no Exp kernel). */
function logSumExp(zt: T2, q: T2): tf.Tensor1D {
  return tf.sub(tf.max(zt, 1), tf.log(tf.max(q, 1))) as tf.Tensor1D;
}

/** Soft targets from teacher logits [n, classes]. Create them outside the gradient function; they carry no gradient. */
export function softTargets(teacherLogits: T2, temperature = 1): SoftTargets {
  return tf.tidy(() => {
    const tt = tf.div(teacherLogits, temperature) as T2;
    const probs = tf.softmax(tt) as T2;
    // sum_c p log p = sum_c p · t/T - lse(t/T), per row.
    const plogp = tf.sum(tf.sub(tf.sum(tf.mul(probs, tt), 1), logSumExp(tt, probs))) as tf.Scalar;
    return { probs, plogp, temperature };
  });
}

/** T² · mean over rows of KL(p || softmax(student / T)); the gradient flows to `student` only. */
export function softTargetKl(student: T2, targets: SoftTargets): tf.Scalar {
  const [n] = student.shape;
  const T = targets.temperature;
  const p = targets.probs;
  const f = tf.customGrad((z, save) => {
    const { value, q } = tf.tidy(() => {
      const zt = tf.div(z as T2, T) as T2;
      const q = tf.softmax(zt) as T2;
      // sum_c p log q = sum_c p · z/T - lse(z/T), per row.
      const cross = tf.sum(tf.sub(tf.sum(tf.mul(p, zt), 1), logSumExp(zt, q)));
      return { value: tf.mul(tf.sub(targets.plogp, cross), (T * T) / n) as tf.Scalar, q };
    });
    (save as tf.GradSaveFunc)([q]);
    return {
      value,
      gradFunc: (dy, [sq]) => tf.mul(tf.sub(sq as T2, p), tf.mul(dy as tf.Scalar, T / n)),
    };
  });
  return f(student) as tf.Scalar;
}

/** `(1 - α) · hard + α · T² · KL`: a student's distilled loss. α = 0 returns `hard` itself. */
export function distilled(hard: tf.Scalar, student: T2, targets: SoftTargets, alpha: number): tf.Scalar {
  if (alpha === 0) return hard;
  if (alpha === 1) return softTargetKl(student, targets);
  return weightedSum([hard, softTargetKl(student, targets)], [1 - alpha, alpha]);
}
