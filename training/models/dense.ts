/**
 * Dense layer `act(x @ W[:rows, :cols] + b[:cols])` with a hand-written gradient.
 *
 * Why by hand:
 * - On tfjs-wasm, `matMul(a, b, transposeA, transposeB)` with a transpose flag is 15-60x
 *   slower than `matMul(transpose(a), b)`, and tfjs's own MatMul gradient uses the flags.
 *   Here the backward pass transposes explicitly, then runs plain matMuls:
 *   dx = dy @ transpose(W), dW = transpose(x) @ dy, db = sum(dy, 0).
 * - `@tensorflow/tfjs-core` alone registers no kernel gradients (the `@tensorflow/tfjs` union
 *   package does), so the slice of the shared weight is part of this op: the gradient of
 *   the slice is written into a zero tensor the size of the full weight.
 * The forward pass is one fused kernel (matmul + bias + relu).
 *
 * @example
 * const h = dense(x, w, b, 'relu');                                   // full weight
 * const z = dense(h, w2, b2, 'relu', { rows: 128, cols: 128 });        // leading 128x128 block
 * const y = dense(x, w, b, 'relu', { cols: 128, inputGrad: false });   // first layer: no dx
 */
import * as tf from '@tensorflow/tfjs-core';

export type Activation = 'relu' | 'linear';

export interface DenseOptions {
  /** Use the first `rows` rows of W (the input units). @defaultValue all */
  rows?: number;
  /** Use the first `cols` columns of W and entries of b (the output units). @defaultValue all */
  cols?: number;
  /** Compute dx. Turn off for the first layer, whose input is data: saves the largest backward matmul. @defaultValue true */
  inputGrad?: boolean;
}

/** dy through the activation: relu passes dy where the output is positive. */
function preActivationGrad(dy: tf.Tensor2D, y: tf.Tensor2D, act: Activation): tf.Tensor2D {
  return act === 'relu' ? tf.mul(dy, tf.step(y)) : dy;
}

/** `act(x @ w[:rows, :cols] + b[:cols])` for x [n, rows]; gradients flow to w and b (full shape) and to x. */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, act: Activation, opts: DenseOptions = {}): tf.Tensor2D {
  const [inFull, outFull] = w.shape;
  const rows = opts.rows ?? inFull;
  const cols = opts.cols ?? outFull;
  const sliced = rows !== inFull || cols !== outFull;
  const inputGrad = opts.inputGrad ?? true;

  const run = (xt: tf.Tensor2D, wt: tf.Tensor2D, bt: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const ws = sliced ? tf.slice(wt, [0, 0], [rows, cols]) : wt;
    const bs = cols !== outFull ? tf.slice(bt, [0], [cols]) : bt;
    const y = tf.fused.matMul({ a: xt, b: ws, bias: bs, activation: act });
    save([xt, ws, y]);
    const gradFunc = (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [sx, sw, sy] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const g = preActivationGrad(dy, sy, act);
      let dw: tf.Tensor2D = tf.matMul(tf.transpose(sx), g);
      let db: tf.Tensor1D = tf.sum(g, 0);
      if (sliced) dw = tf.pad(dw, [[0, inFull - rows], [0, outFull - cols]]);
      if (cols !== outFull) db = tf.pad(db, [[0, outFull - cols]]);
      return inputGrad ? [tf.matMul(g, tf.transpose(sw)), dw, db] : [dw, db];
    };
    return { value: y, gradFunc };
  };

  if (inputGrad) {
    const f = tf.customGrad((xt, wt, bt, save) => run(xt as tf.Tensor2D, wt as tf.Tensor2D, bt as tf.Tensor1D, save as tf.GradSaveFunc) as never);
    return f(x, w, b) as tf.Tensor2D;
  }
  const f = tf.customGrad((wt, bt, save) => run(x, wt as tf.Tensor2D, bt as tf.Tensor1D, save as tf.GradSaveFunc) as never);
  return f(w, b) as tf.Tensor2D;
}

/**
 * The first `cols` columns of h [n, c] (a narrower subnet's view of a wider activation), with
 * a hand-written gradient (tfjs-core registers none): dy goes back zero-padded to c columns.
 */
export function leading(h: tf.Tensor2D, cols: number): tf.Tensor2D {
  const [n, c] = h.shape;
  if (cols === c) return h;
  const f = tf.customGrad((ht) => ({ value: tf.slice(ht as tf.Tensor2D, [0, 0], [n, cols]), gradFunc: (dy: tf.Tensor2D) => tf.pad(dy, [[0, 0], [0, c - cols]]) }) as never);
  return f(h) as tf.Tensor2D;
}

/**
 * Reference: the same layer through `tf.fused.matMul`, whose built-in gradient uses the
 * transpose flags (the slow form on wasm). For tests and the benchmark; no slicing.
 */
export function denseBuiltin(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, act: Activation): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: w, bias: b, activation: act }) as tf.Tensor2D;
}
