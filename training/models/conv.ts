/**
 * 2-D convolution (NHWC input, HWIO filter, symmetric zero padding) with a hand-written
 * gradient, so the backward pass runs the kernels of training/kernels on wasm:
 * dx = Conv2DBackpropInput(dy, W), dW = Conv2DBackpropFilter(x, dy). Both are registered for
 * wasm by `registerWasmKernels()`; cpu and tfjs-node have their own.
 *
 * @example
 * const y = conv2d(x, w, 2, 1);            // x [n, 28, 28, 16], w [3, 3, 16, 32] -> y [n, 14, 14, 32]
 * const z = conv2dNoInputGrad(img, w, 1, 1); // img is data: skip dx (the stem)
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmKernels } from '../kernels/index.js';

// The backward pass needs Conv2DBackpropFilter, which tfjs-backend-wasm lacks.
registerWasmKernels();

/**
 * `pad` zeros on every side, as explicit NHWC padding. (tfjs's numeric padding computes the
 * output width from the filter height, which is wrong for non-square filters.)
 */
function explicit(pad: number): tf.backend_util.ExplicitPadding {
  return [[0, 0], [pad, pad], [pad, pad], [0, 0]];
}

/** Filter gradient [kh, kw, in, out] of a conv with input x and output gradient dy. */
export function convFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], stride: number, pad: number): tf.Tensor4D {
  const attrs = { strides: [stride, stride], pad: explicit(pad), dataFormat: 'NHWC', filterShape };
  return tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** Input gradient of a conv with filter w, for an input of shape `inputShape`. */
export function convInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, inputShape: [number, number, number, number], stride: number, pad: number): tf.Tensor4D {
  return tf.conv2dTranspose(dy, w, inputShape, stride, explicit(pad));
}

function forward(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
  return tf.conv2d(x, w, stride, explicit(pad));
}

/**
 * `x[:, ::s, ::s, :]`, with its gradient (dy spread back with zeros in between). Done with
 * reshape, slice and pad: tfjs-wasm's strided slice and its gradient are far slower.
 */
export function subsample(x: tf.Tensor4D, s: number): tf.Tensor4D {
  if (s === 1) return x;
  const [n, h, w, c] = x.shape;
  const oh = Math.ceil(h / s);
  const ow = Math.ceil(w / s);
  const ragged = oh * s !== h || ow * s !== w;
  const f = tf.customGrad((x) => {
    const even = ragged ? tf.pad(x as tf.Tensor4D, [[0, 0], [0, oh * s - h], [0, ow * s - w], [0, 0]]) : (x as tf.Tensor4D);
    // Row s*i + a, column s*j + b of image k is [k*oh + i, a, j, b*c + channel] of this view.
    const picked = tf.slice(tf.reshape(even, [n * oh, s, ow, s * c]), [0, 0, 0, 0], [n * oh, 1, ow, c]);
    return {
      value: tf.reshape(picked, [n, oh, ow, c]),
      gradFunc: (dy) => {
        const spread = tf.pad(tf.reshape(dy as tf.Tensor, [n * oh, 1, ow, c]), [[0, 0], [0, s - 1], [0, 0], [0, (s - 1) * c]]);
        const full = tf.reshape(spread, [n, oh * s, ow * s, c]);
        return ragged ? tf.slice(full, [0, 0, 0, 0], [n, h, w, c]) : full;
      },
    };
  });
  return f(x) as tf.Tensor4D;
}

/**
 * 1x1 conv with no padding as subsample + matMul: dW = transpose(x) @ dy and dx = dy @ transpose(W),
 * with explicit 2-D transposes (tfjs-wasm's transposed-matMul flags are far slower). A 1x1
 * stride-2 conv's kernels otherwise cost 5-7x its forward pass on wasm.
 */
function pointwise(x: tf.Tensor4D, w: tf.Tensor4D, stride: number): tf.Tensor4D {
  const xs = subsample(x, stride);
  const [n, h, wd, ci] = xs.shape;
  const co = w.shape[3];
  const f = tf.customGrad((x2, w2, save) => {
    (save as tf.GradSaveFunc)([x2 as tf.Tensor, w2 as tf.Tensor]);
    return {
      value: tf.matMul(x2 as tf.Tensor2D, w2 as tf.Tensor2D),
      gradFunc: (dy, saved) => {
        const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy as tf.Tensor2D, tf.transpose(sw)), tf.matMul(tf.transpose(sx), dy as tf.Tensor2D)];
      },
    };
  });
  const y = f(tf.reshape(xs, [n * h * wd, ci]), tf.reshape(w, [ci, co])) as tf.Tensor2D;
  return tf.reshape(y, [n, h, wd, co]);
}

/** `conv2d(x, w)` with stride `stride` and `pad` zeros on every side; gradients for x and w. */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
  if (w.shape[0] === 1 && w.shape[1] === 1 && pad === 0) return pointwise(x, w, stride);
  const f = tf.customGrad((x, w, save) => {
    const y = forward(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad);
    (save as tf.GradSaveFunc)([x as tf.Tensor, w as tf.Tensor]);
    return {
      value: y,
      gradFunc: (dy, saved) => {
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
        const g = dy as tf.Tensor4D;
        return [convInputGrad(g, sw, sx.shape, stride, pad), convFilterGrad(sx, g, sw.shape, stride, pad)];
      },
    };
  });
  return f(x, w) as tf.Tensor4D;
}

/** Same as `conv2d`, but x is data: only the filter gradient is computed (the stem). */
export function conv2dNoInputGrad(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
  const f = tf.customGrad((w, save) => {
    const y = forward(x, w as tf.Tensor4D, stride, pad);
    (save as tf.GradSaveFunc)([x, w as tf.Tensor]);
    return {
      value: y,
      gradFunc: (dy, saved) => {
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
        return [convFilterGrad(sx, dy as tf.Tensor4D, sw.shape, stride, pad)];
      },
    };
  });
  return f(w) as tf.Tensor4D;
}
