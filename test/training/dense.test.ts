// The hand-written dense gradient against tfjs's built-in one (tf.fused.matMul) and against
// float64 finite differences, including the sliced (sub-network) form.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../training/backend.js';
import { dense, denseBuiltin, type Activation } from '../../training/models/dense.js';
import { Rng } from '../../training/rng.js';
import { maxAbsDiff, randomArray, refDense, registerBuiltinGradients } from './helpers.js';

before(async () => {
  await initBackend('wasm');
  await registerBuiltinGradients();
});

const N = 6, IN = 9, OUT = 7;

function setup(seed: number) {
  const rng = new Rng(seed);
  return { x: randomArray(N * IN, rng), w: randomArray(IN * OUT, rng, 0.5), b: randomArray(OUT, rng, 0.5), r: randomArray(N * OUT, rng) };
}

for (const act of ['relu', 'linear'] as Activation[]) {
  void test(`dense(${act}) gradient equals tf.fused.matMul's built-in gradient`, () => {
    const { x, w, b, r } = setup(1);
    const before = tf.memory().numTensors;
    const [custom, builtin] = tf.tidy(() => {
      const args = [tf.tensor2d(x, [N, IN]), tf.tensor2d(w, [IN, OUT]), tf.tensor1d(b)];
      const dy = tf.tensor2d(r, [N, OUT]);
      const g1 = tf.grads((a, c, d) => dense(a as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor1D, act))(args, dy);
      const g2 = tf.grads((a, c, d) => denseBuiltin(a as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor1D, act))(args, dy);
      return [g1.map((g) => g.dataSync()), g2.map((g) => g.dataSync())];
    });
    for (const [i, name] of ['dx', 'dW', 'db'].entries()) {
      const d = maxAbsDiff(custom[i]!, builtin[i]!);
      console.log(`  ${act} ${name} maxdiff ${d.toExponential(2)}`);
      assert.ok(d < 1e-5, `${name} maxdiff ${d}`);
    }
    assert.equal(tf.memory().numTensors, before);
  });
}

void test('sliced dense: forward and gradient match float64 finite differences', () => {
  const { x, w, b } = setup(2);
  const rows = 5, cols = 4; // use W[:5, :4], b[:4]
  const rng = new Rng(3);
  const r = randomArray(N * cols, rng);
  const xs = new Float32Array(N * rows);
  for (let i = 0; i < N; i++) xs.set(x.subarray(i * IN, i * IN + rows), i * rows);
  // Scalar L = sum(relu(xs @ W[:rows,:cols] + b[:cols]) * r) in float64.
  const L = (wv: ArrayLike<number>, bv: ArrayLike<number>, xv: ArrayLike<number>) =>
    refDense(xv, N, wv, OUT, bv, rows, cols, true).reduce((s, v, i) => s + v * r[i]!, 0);

  const { y, dx, dw, db } = tf.tidy(() => {
    const args = [tf.tensor2d(xs, [N, rows]), tf.tensor2d(w, [IN, OUT]), tf.tensor1d(b)];
    const f = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => dense(a as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor1D, 'relu', { rows, cols });
    const [gx, gw, gb] = tf.grads(f)(args, tf.tensor2d(r, [N, cols]));
    return { y: f(args[0]!, args[1]!, args[2]!).dataSync(), dx: gx!.dataSync(), dw: gw!.dataSync(), db: gb!.dataSync() };
  });
  assert.ok(maxAbsDiff(y, refDense(xs, N, w, OUT, b, rows, cols, true)) < 1e-5);
  assert.equal(dw.length, IN * OUT, 'dW has the full weight shape');

  const eps = 1e-6;
  const fd = (arr: Float32Array, i: number, f: (a: Float64Array) => number) => {
    const p = Float64Array.from(arr); p[i] = p[i]! + eps;
    const m = Float64Array.from(arr); m[i] = m[i]! - eps;
    return (f(p) - f(m)) / (2 * eps);
  };
  let maxdiff = 0;
  for (let i = 0; i < IN * OUT; i++) {
    const expected = Math.floor(i / OUT) < rows && i % OUT < cols ? fd(w, i, (p) => L(p, b, xs)) : 0;
    maxdiff = Math.max(maxdiff, Math.abs(dw[i]! - expected));
  }
  for (let i = 0; i < OUT; i++) maxdiff = Math.max(maxdiff, Math.abs(db[i]! - (i < cols ? fd(b, i, (p) => L(w, p, xs)) : 0)));
  for (let i = 0; i < N * rows; i++) maxdiff = Math.max(maxdiff, Math.abs(dx[i]! - fd(xs, i, (p) => L(w, b, p))));
  console.log(`  sliced dense vs finite differences: maxdiff ${maxdiff.toExponential(2)}`);
  assert.ok(maxdiff < 1e-4, `maxdiff ${maxdiff}`);
});

void test('dense with inputGrad: false returns gradients for W and b only', () => {
  const { x, w, b, r } = setup(4);
  tf.tidy(() => {
    const xt = tf.tensor2d(x, [N, IN]);
    const dy = tf.tensor2d(r, [N, OUT]);
    const [gw1, gb1] = tf.grads((c, d) => dense(xt, c as tf.Tensor2D, d as tf.Tensor1D, 'relu', { inputGrad: false }))([tf.tensor2d(w, [IN, OUT]), tf.tensor1d(b)], dy);
    const [, gw2, gb2] = tf.grads((a, c, d) => dense(a as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor1D, 'relu'))([xt, tf.tensor2d(w, [IN, OUT]), tf.tensor1d(b)], dy);
    assert.ok(maxAbsDiff(gw1!.dataSync(), gw2!.dataSync()) < 1e-6);
    assert.ok(maxAbsDiff(gb1!.dataSync(), gb2!.dataSync()) < 1e-6);
  });
});
