/**
 * Transformer ops with hand-written gradients, for the sorted GPT. Each is one customGrad
 * node, so the tape stays small and the backward pass uses only fast kernels:
 * explicit transposes for 2-D matmuls (see dense.ts), scatter-add for the embedding
 * (wasm has no UnsortedSegmentSum, which tf.gather's gradient needs), and the softmax
 * Jacobian written out for attention and cross-entropy.
 *
 * Batched [b, t, t] attention matmuls keep tfjs's transpose flags: measured on wasm
 * (64 x 64 x 32 per batch entry), the flagged form is as fast as or faster than an explicit
 * transpose; only the 2-D `transposeA` form is slow.
 *
 * @example
 * const x = embed(ids, 2, 8, tokEmb, posEmb);          // [16, d]
 * const h = layerNorm(x, gamma, beta);                 // [16, d]
 * const a = causalAttention(q, k, v, 2, 8, 4);         // q, k, v [16, 4 * dh] -> [16, 4 * dh]
 * const loss = lmCrossEntropy(logits, targets);        // scalar mean over rows
 */
import * as tf from '@tensorflow/tfjs-core';

type T2 = tf.Tensor2D;

/** LayerNorm epsilon, the same in tfjs, in ONNX LayerNormalization and in PyTorch's default. */
export const LN_EPS = 1e-5;

/**
 * Token plus position embedding: x[b * t + i] = tok[ids[b * t + i]] + pos[i], shape [batch * seq, d].
 * `ids` is data (no gradient); gradients flow to both tables.
 */
export function embed(ids: tf.Tensor1D, batch: number, seq: number, tok: T2, pos: T2): T2 {
  const d = tok.shape[1];
  const f = tf.customGrad((tokT, posT, save) => {
    const x = tf.tidy(() => {
      const rows = tf.gather(tokT as T2, ids);
      const p = tf.slice(posT as T2, [0, 0], [seq, d]);
      return tf.reshape(tf.add(tf.reshape(rows, [batch, seq, d]), p), [batch * seq, d]);
    });
    (save as tf.GradSaveFunc)([]);
    return {
      value: x as T2,
      gradFunc: (dy) => {
        const g = dy as T2;
        const dTok = tf.scatterND(tf.reshape(ids, [batch * seq, 1]), g, tok.shape);
        const dPosUsed = tf.sum(tf.reshape(g, [batch, seq, d]), 0);
        const dPos = seq === pos.shape[0] ? dPosUsed : tf.pad(dPosUsed, [[0, pos.shape[0] - seq], [0, 0]]);
        return [dTok, dPos];
      },
    };
  });
  return f(tok, pos) as T2;
}

/** y = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis of x [n, d]. */
export function layerNorm(x: T2, gamma: tf.Tensor1D, beta: tf.Tensor1D): T2 {
  const f = tf.customGrad((xT, g, b, save) => {
    const { xhat, rstd } = tf.tidy(() => {
      const { mean, variance } = tf.moments(xT as T2, -1, true);
      const r = tf.rsqrt(tf.add(variance, LN_EPS));
      return { xhat: tf.mul(tf.sub(xT as T2, mean), r) as T2, rstd: r as T2 };
    });
    const y = tf.add(tf.mul(xhat, g as tf.Tensor1D), b as tf.Tensor1D) as T2;
    (save as tf.GradSaveFunc)([xhat, rstd, g as tf.Tensor]);
    return {
      value: y,
      gradFunc: (dy, saved) => {
        const [sx, sr, sg] = saved as [T2, T2, tf.Tensor1D];
        const d = dy as T2;
        const dg = tf.sum(tf.mul(d, sx), 0);
        const db = tf.sum(d, 0);
        const dxhat = tf.mul(d, sg);
        const m1 = tf.mean(dxhat, -1, true);
        const m2 = tf.mean(tf.mul(dxhat, sx), -1, true);
        const dx = tf.mul(tf.sub(tf.sub(dxhat, m1), tf.mul(sx, m2)), sr);
        return [dx, dg, db];
      },
    };
  });
  return f(x, gamma, beta) as T2;
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); the ONNX graph composes the same formula. */
export function gelu(x: T2): T2 {
  const f = tf.customGrad((xT, save) => {
    const y = tf.tidy(() => tf.mul(tf.mul(xT as T2, 0.5), tf.add(tf.erf(tf.mul(xT as T2, SQRT1_2)), 1))) as T2;
    (save as tf.GradSaveFunc)([xT as T2]);
    return {
      value: y,
      gradFunc: (dy, [sx]) => {
        // d/dx = Phi(x) + x phi(x)
        const cdf = tf.mul(tf.add(tf.erf(tf.mul(sx!, SQRT1_2)), 1), 0.5);
        const pdf = tf.mul(tf.exp(tf.mul(tf.square(sx!), -0.5)), INV_SQRT_2PI);
        return [tf.mul(dy as T2, tf.add(cdf, tf.mul(sx!, pdf)))];
      },
    };
  });
  return f(x) as T2;
}

const masks = new Map<number, tf.Tensor2D>();

/** [seq, seq] additive causal mask: 0 on and below the diagonal, -1e9 above. Cached per length. */
function causalMask(seq: number): tf.Tensor2D {
  let m = masks.get(seq);
  if (!m || m.isDisposed) {
    const data = new Float32Array(seq * seq);
    for (let i = 0; i < seq; i++) for (let j = i + 1; j < seq; j++) data[i * seq + j] = -1e9;
    m = tf.keep(tf.tensor2d(data, [seq, seq]));
    masks.set(seq, m);
  }
  return m;
}

/** [batch * seq, heads * dh] -> [batch * heads, seq, dh]. */
function splitHeads(x: tf.Tensor, batch: number, seq: number, heads: number, dh: number): tf.Tensor3D {
  return tf.reshape(tf.transpose(tf.reshape(x, [batch, seq, heads, dh]), [0, 2, 1, 3]), [batch * heads, seq, dh]);
}

/** [batch * heads, seq, dh] -> [batch * seq, heads * dh]. */
function mergeHeads(x: tf.Tensor, batch: number, seq: number, heads: number, dh: number): T2 {
  return tf.reshape(tf.transpose(tf.reshape(x, [batch, heads, seq, dh]), [0, 2, 1, 3]), [batch * seq, heads * dh]);
}

/**
 * Causal multi-head attention core: softmax(q k^T / sqrt(dh) + mask) v per head.
 * q, k, v are [batch * seq, heads * dh] (head h in columns h*dh .. (h+1)*dh); so is the output.
 * `dh` is the head size of the full model: a subnet with fewer heads keeps the same scale.
 */
export function causalAttention(q: T2, k: T2, v: T2, batch: number, seq: number, heads: number): T2 {
  const dh = q.shape[1] / heads;
  const scale = 1 / Math.sqrt(dh);
  const f = tf.customGrad((qT, kT, vT, save) => {
    const { qs, ks, vs, p, out } = tf.tidy(() => {
      const qs = splitHeads(qT as T2, batch, seq, heads, dh);
      const ks = splitHeads(kT as T2, batch, seq, heads, dh);
      const vs = splitHeads(vT as T2, batch, seq, heads, dh);
      const s = tf.add(tf.mul(tf.matMul(qs, ks, false, true), scale), causalMask(seq));
      const p = tf.softmax(s) as tf.Tensor3D;
      const out = mergeHeads(tf.matMul(p, vs), batch, seq, heads, dh);
      return { qs, ks, vs, p, out };
    });
    (save as tf.GradSaveFunc)([qs, ks, vs, p]);
    return {
      value: out,
      gradFunc: (dy, saved) => {
        const [sq, sk, sv, sp] = saved as tf.Tensor3D[];
        const dO = splitHeads(dy as T2, batch, seq, heads, dh);
        const dv = tf.matMul(sp!, dO, true, false);
        const dp = tf.matMul(dO, sv!, false, true);
        const ds = tf.mul(tf.mul(sp!, tf.sub(dp, tf.sum(tf.mul(dp, sp!), -1, true))), scale);
        const dq = tf.matMul(ds, sk!);
        const dk = tf.matMul(ds, sq!, true, false);
        return [mergeHeads(dq, batch, seq, heads, dh), mergeHeads(dk, batch, seq, heads, dh), mergeHeads(dv, batch, seq, heads, dh)];
      },
    };
  });
  return f(q, k, v) as T2;
}

/** x [n, in] @ w [in, out] with gradients to both; no bias (the LM head). */
export function matmul(x: T2, w: T2): T2 {
  const f = tf.customGrad((xT, wT, save) => {
    (save as tf.GradSaveFunc)([xT as T2, wT as T2]);
    return {
      value: tf.matMul(xT as T2, wT as T2),
      gradFunc: (dy, [sx, sw]) => [tf.matMul(dy as T2, tf.transpose(sw!)), tf.matMul(tf.transpose(sx!), dy as T2)],
    };
  });
  return f(x, w) as T2;
}

/**
 * Mean token cross-entropy of logits [n, vocab] against integer targets [n]; `mask` (0/1
 * per row, optional) leaves rows out of the mean. Gradient (softmax - onehot) / count.
 */
export function lmCrossEntropy(logits: T2, targets: tf.Tensor1D, mask?: tf.Tensor1D): tf.Scalar {
  const [n, vocab] = logits.shape;
  const f = tf.customGrad((l, save) => {
    // The Softmax kernel, not exp/logSumExp: wasm's Exp is 10x slower on [n, vocab].
    const { loss, probs, onehot, w, count } = tf.tidy(() => {
      const probs = tf.softmax(l as T2) as T2;
      const flat = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(vocab, 'int32')), targets);
      const picked = tf.gather(tf.reshape(probs, [n * vocab]), flat);
      const nll = tf.neg(tf.log(tf.maximum(picked, 1e-30)));
      // oneHot(..., 'float32') on wasm writes int32 bits into a float buffer (1 reads as 1.4e-45): cast instead.
      const onehot = tf.cast(tf.oneHot(targets, vocab), 'float32') as T2;
      const w = mask ?? tf.ones([n]);
      const count = tf.maximum(tf.sum(w), 1);
      const loss = tf.div(tf.sum(tf.mul(nll, w)), count) as tf.Scalar;
      return { loss, probs, onehot, w: w as tf.Tensor1D, count: count as tf.Scalar };
    });
    (save as tf.GradSaveFunc)([probs, onehot, w, count]);
    return {
      value: loss,
      gradFunc: (dy, saved) => {
        const [sp, so, sw, sc] = saved as [T2, T2, tf.Tensor1D, tf.Scalar];
        const rowScale = tf.reshape(tf.div(tf.mul(sw, dy as tf.Scalar), sc), [n, 1]);
        return [tf.mul(tf.sub(sp, so), rowScale)];
      },
    };
  });
  return f(logits) as tf.Scalar;
}
