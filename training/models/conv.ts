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

/** Filter gradient [kh, kw, in, out] of a conv with input x and output gradient dy. */
export function convFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], stride: number, pad: number): tf.Tensor4D {
  const attrs = { strides: [stride, stride], pad, dataFormat: 'NHWC', filterShape };
  return tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** Input gradient of a conv with filter w, for an input of shape `inputShape`. */
export function convInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, inputShape: [number, number, number, number], stride: number, pad: number): tf.Tensor4D {
  return tf.conv2dTranspose(dy, w, inputShape, stride, pad);
}

function forward(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
  return tf.conv2d(x, w, stride, pad);
}

/** `conv2d(x, w)` with stride `stride` and `pad` zeros on every side; gradients for x and w. */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
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
