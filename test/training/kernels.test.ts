// The wasm kernels of training/kernels (Conv2DBackpropFilter, which tfjs-backend-wasm lacks,
// and the conv-based Conv2DBackpropInput that replaces its slow loop) against the cpu
// backend's kernels and against float64 finite differences of sum(dy * conv(x, w)).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../training/backend.js';
import { registerWasmKernels, wasmKernelConfigs } from '../../training/kernels/index.js';
import { convFilterGrad, convInputGrad } from '../../training/models/conv.js';
import { Rng } from '../../training/rng.js';
import { convOutSize, dot, finiteDiff, refConv, type ConvShape } from './cnn-helpers.js';
import { maxAbsDiff, randomArray } from './helpers.js';

before(async () => {
  registerWasmKernels();
  assert.equal(await initBackend('wasm'), 'wasm');
});

const SHAPES: ConvShape[] = [
  { n: 2, h: 7, w: 7, ci: 3, co: 4, kh: 3, kw: 3, stride: 1, pad: 1 },
  { n: 2, h: 8, w: 8, ci: 3, co: 5, kh: 3, kw: 3, stride: 2, pad: 1 },
  { n: 2, h: 7, w: 7, ci: 2, co: 3, kh: 3, kw: 3, stride: 2, pad: 1 },
  { n: 1, h: 8, w: 6, ci: 4, co: 2, kh: 1, kw: 1, stride: 2, pad: 0 },
  { n: 2, h: 7, w: 7, ci: 3, co: 2, kh: 1, kw: 1, stride: 2, pad: 0 },
  { n: 2, h: 9, w: 6, ci: 2, co: 3, kh: 3, kw: 2, stride: 1, pad: 0 },
  { n: 1, h: 10, w: 10, ci: 2, co: 2, kh: 3, kw: 3, stride: 3, pad: 1 },
  { n: 3, h: 5, w: 5, ci: 1, co: 4, kh: 3, kw: 3, stride: 1, pad: 1 },
];

const label = (s: ConvShape) => `${s.n}x${s.h}x${s.w}x${s.ci} k${s.kh}x${s.kw} -> ${s.co}, stride ${s.stride}, pad ${s.pad}`;

function data(s: ConvShape, seed: number) {
  const rng = new Rng(seed);
  const oh = convOutSize(s.h, s.kh, s.stride, s.pad);
  const ow = convOutSize(s.w, s.kw, s.stride, s.pad);
  return {
    x: randomArray(s.n * s.h * s.w * s.ci, rng),
    w: randomArray(s.kh * s.kw * s.ci * s.co, rng),
    dy: randomArray(s.n * oh * ow * s.co, rng),
    oh,
    ow,
  };
}

/** dx and dW through the kernels of the current backend. */
function grads(s: ConvShape, d: ReturnType<typeof data>): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(d.x, [s.n, s.h, s.w, s.ci]);
    const w = tf.tensor4d(d.w, [s.kh, s.kw, s.ci, s.co]);
    const dy = tf.tensor4d(d.dy, [s.n, d.oh, d.ow, s.co]);
    return {
      dx: convInputGrad(dy, w, [s.n, s.h, s.w, s.ci], s.stride, s.pad).dataSync() as Float32Array,
      dw: convFilterGrad(x, dy, [s.kh, s.kw, s.ci, s.co], s.stride, s.pad).dataSync() as Float32Array,
    };
  });
}

void test('the wasm backend runs our kernels, not the stock ones', () => {
  for (const c of wasmKernelConfigs()) assert.equal(tf.getKernel(c.kernelName, 'wasm')?.kernelFunc, c.kernelFunc, c.kernelName);
});

for (const [i, s] of SHAPES.entries()) {
  void test(`conv gradients on wasm match the cpu backend: ${label(s)}`, async () => {
    const d = data(s, 10 + i);
    const before = tf.memory().numTensors;
    const wasm = grads(s, d);
    assert.equal(tf.memory().numTensors, before, 'the kernels leave no tensors behind');
    await tf.setBackend('cpu');
    const cpu = grads(s, d);
    await tf.setBackend('wasm');
    const ddx = maxAbsDiff(wasm.dx, cpu.dx);
    const ddw = maxAbsDiff(wasm.dw, cpu.dw);
    console.log(`  ${label(s)}: dx maxdiff ${ddx.toExponential(2)}, dW maxdiff ${ddw.toExponential(2)}`);
    assert.ok(ddx < 1e-4, `dx maxdiff ${ddx}`);
    assert.ok(ddw < 1e-4, `dW maxdiff ${ddw}`);
  });

  void test(`conv gradients on wasm match float64 finite differences: ${label(s)}`, () => {
    const d = data(s, 20 + i);
    const wasm = grads(s, d);
    const x = Float64Array.from(d.x);
    const w = Float64Array.from(d.w);
    const fdx = finiteDiff(x, (p) => dot(refConv(p, w, s), d.dy));
    const fdw = finiteDiff(w, (p) => dot(refConv(x, p, s), d.dy));
    const ddx = maxAbsDiff(wasm.dx, fdx);
    const ddw = maxAbsDiff(wasm.dw, fdw);
    console.log(`  ${label(s)}: dx maxdiff ${ddx.toExponential(2)}, dW maxdiff ${ddw.toExponential(2)}`);
    assert.ok(ddx < 1e-4, `dx maxdiff ${ddx}`);
    assert.ok(ddw < 1e-4, `dW maxdiff ${ddw}`);
  });
}

void test('tf.grad of a plain tf.conv2d works on wasm (the built-in Conv2D gradient finds the kernels)', async () => {
  const s = SHAPES[1]!;
  const d = data(s, 5);
  const run = () => tf.tidy(() => {
    const x = tf.tensor4d(d.x, [s.n, s.h, s.w, s.ci]);
    const w = tf.tensor4d(d.w, [s.kh, s.kw, s.ci, s.co]);
    const dy = tf.tensor4d(d.dy, [s.n, d.oh, d.ow, s.co]);
    const [gx, gw] = tf.grads((a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s.stride, s.pad))([x, w], dy);
    return [gx!.dataSync(), gw!.dataSync()];
  });
  const { registerBuiltinConvGradient } = await import('./cnn-helpers-tf.js');
  await registerBuiltinConvGradient();
  const wasm = run();
  const ref = grads(s, d);
  assert.ok(maxAbsDiff(wasm[0]!, ref.dx) < 1e-5);
  assert.ok(maxAbsDiff(wasm[1]!, ref.dw) < 1e-5);
});
