/**
 * A faster `Conv2DBackpropInput` for the wasm backend. The stock wasm kernel is a plain loop,
 * 5-10x slower than the forward conv on the same shapes; this one is a forward convolution on
 * XNNPACK, at about the forward conv's cost for stride 1:
 *
 *   dx = conv2d(dilate(dy, stride), reverse(W, [h, w]) with in/out swapped, stride 1)
 *
 * where `dilate` puts stride-1 zeros after every dy row and column, and the padding is the
 * full-correlation padding `k - 1 - pad` (rows beyond what the output needs are cropped).
 *
 * @example
 * registerWasmKernels(); // from ./index.js
 * tf.conv2dTranspose(dy, w, [n, 28, 28, 16], 1, 'same'); // runs this kernel on wasm
 */
import { backend_util, Conv2DBackpropInput, type Conv2DBackpropInputAttrs, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { composer } from './compose.js';

export function conv2dBackpropInputKernel(backendName: string): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
    const info = backend_util.computeConv2DInfo(
      inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false,
      backend_util.convertConv2DDataFormat(dataFormat),
    );
    if (info.dataFormat !== 'channelsLast') throw new Error(`Conv2DBackpropInput on ${backendName} supports NHWC only, got ${dataFormat}`);
    const k = composer(backendName, backend);
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow, inHeight: ih, inWidth: iw, batchSize: n, outChannels: co } = info;

    // dy with stride-1 zeros after each row and column: [n, oh*sh, ow*sw, co].
    let d = dy;
    if (sh > 1 || sw > 1) {
      const r = k.run('Reshape', { x: dy }, { shape: [n, oh, 1, ow, 1, co] });
      const p = k.run('PadV2', { x: r }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
      d = k.run('Reshape', { x: p }, { shape: [n, oh * sh, ow * sw, co] });
      k.release(r, p);
    }
    // Full correlation: dx[i] = sum_j d[i + top - j'] ... needs ih + kh - 1 rows starting `top` above d.
    const top = kh - 1 - info.padInfo.top;
    const left = kw - 1 - info.padInfo.left;
    const bottom = ih + kh - 1 - top - oh * sh;
    const right = iw + kw - 1 - left - ow * sw;
    // Negative pads crop d instead (rows the forward conv never produced from).
    const crop = top < 0 || left < 0 || bottom < 0 || right < 0;
    let dc = d;
    if (crop) {
      const t0 = Math.max(-top, 0);
      const l0 = Math.max(-left, 0);
      dc = k.run('Slice', { x: d }, { begin: [0, t0, l0, 0], size: [n, oh * sh - t0 + Math.min(bottom, 0), ow * sw - l0 + Math.min(right, 0), co] });
    }
    if (d !== dy && dc !== d) k.release(d);
    const flipped = k.run('Reverse', { x: filter }, { dims: [0, 1] });
    const wT = k.run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] });
    k.release(flipped);
    const paddings = [[0, 0], [Math.max(top, 0), Math.max(bottom, 0)], [Math.max(left, 0), Math.max(right, 0)], [0, 0]];
    const out = k.run('Conv2D', { x: dc, filter: wT }, { strides: [1, 1], pad: paddings, dilations: [1, 1], dataFormat: 'NHWC' });
    k.release(wT);
    if (dc !== dy) k.release(dc);
    return out;
  };
}

export function conv2dBackpropInputConfig(backendName: string): KernelConfig {
  return { kernelName: Conv2DBackpropInput, backendName, kernelFunc: conv2dBackpropInputKernel(backendName) };
}
