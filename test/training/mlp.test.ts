// Sorted MLP: subnet slicing against a float64 reference, params and MACs, checkpoint tensor
// names and shapes (the packager contract), and the full sorted loss gradient against
// finite differences.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../training/backend.js';
import { forwardSubnet, initMlpTensors, mlpMacs, mlpParams, SortedMlp } from '../../training/models/mlp.js';
import { Rng } from '../../training/rng.js';
import { latticeOf, widthUnits } from '../../training/spec.js';
import { computeGradients } from '../../training/step.js';
import { SortedNetError } from '../../runtime/errors.js';
import { maxAbsDiff, randomArray, refCrossEntropy, refForward } from './helpers.js';

before(async () => {
  await initBackend('wasm');
});

const config = { inputSize: 12, hidden: 8, classes: 5 };

function randomTensors(seed: number) {
  const t = initMlpTensors(config, 3, new Rng(seed));
  const rng = new Rng(seed + 100);
  for (const v of Object.values(t)) for (let i = 0; i < v.data.length; i++) v.data[i] = v.data[i]! + rng.uniform(-0.1, 0.1); // non-zero biases
  return t;
}

void test('checkpoint tensor names and layout follow the packager contract', () => {
  const t = initMlpTensors({ inputSize: 784, hidden: 16, classes: 10 }, 3, new Rng(0));
  assert.deepEqual(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.dims])), {
    'layers.0.weight': [784, 16], 'layers.0.bias': [16],
    'layers.1.weight': [16, 16], 'layers.1.bias': [16],
    'layers.2.weight': [16, 16], 'layers.2.bias': [16],
    'head.weight': [16, 10], 'head.bias': [10],
  });
});

void test('forwardSubnet equals the float64 reference for every subnet', () => {
  const t = randomTensors(1);
  const n = 4;
  const x = randomArray(n * config.inputSize, new Rng(2));
  const before = tf.memory().numTensors;
  let maxdiff = 0;
  for (const levels of latticeOf({ depth: [1, 2, 3], width: [0.25, 0.5, 1] })) {
    const got = forwardSubnet(t, levels, x, n);
    const want = refForward(t, levels.depth!, widthUnits(levels.width!, config.hidden), x, n);
    maxdiff = Math.max(maxdiff, maxAbsDiff(got, want));
  }
  console.log(`  forwardSubnet vs float64 reference: maxdiff ${maxdiff.toExponential(2)}`);
  assert.ok(maxdiff < 1e-5);
  assert.equal(tf.memory().numTensors, before, 'forwardSubnet leaves no tensors');
});

void test('forwardSubnet accepts a live model and rejects bad input', () => {
  const t = randomTensors(3);
  const model = SortedMlp.fromTensors(t);
  const x = randomArray(2 * config.inputSize, new Rng(4));
  assert.ok(maxAbsDiff(forwardSubnet(model, { depth: 2, width: 0.5 }, x, 2), forwardSubnet(t, { depth: 2, width: 0.5 }, x, 2)) === 0);
  assert.throws(() => forwardSubnet(model, { depth: 4 }, x, 2), (e: unknown) => e instanceof SortedNetError && e.field === 'levels.depth');
  assert.throws(() => forwardSubnet(model, {}, x, 3), (e: unknown) => e instanceof SortedNetError && e.code === 'BAD_INPUT');
  model.dispose();
});

void test('params and MACs per subnet', () => {
  const c = { inputSize: 784, hidden: 512, classes: 10 };
  assert.equal(mlpMacs(c, { depth: 3, width: 1 }), 784 * 512 + 2 * 512 * 512 + 512 * 10);
  assert.equal(mlpParams(c, { depth: 3, width: 1 }), 784 * 512 + 512 + 2 * (512 * 512 + 512) + 512 * 10 + 10);
  assert.equal(mlpMacs(c, { depth: 2, width: 0.5 }, 3), 784 * 256 + 256 * 256 + 256 * 10);
  assert.equal(mlpParams(c, { depth: 1, width: 0.25 }, 3), 784 * 128 + 128 + 128 * 10 + 10);
});

void test('sorted loss gradient (two subnets, shared weights) matches finite differences', () => {
  const t = randomTensors(5);
  const model = SortedMlp.fromTensors(t, { trainable: true });
  const n = 3;
  const x = randomArray(n * config.inputSize, new Rng(6));
  const labels = new Uint8Array([1, 4, 0]);
  const subnets = [{ depth: 3, width: 1 }, { depth: 1, width: 0.5 }];
  const { loss, grads } = computeGradients(model, { x, labels, n }, subnets, 'mean');
  const refLoss = (tt: typeof t) => subnets.reduce((s, l) => s + refCrossEntropy(refForward(tt, l.depth, widthUnits(l.width, config.hidden), x, n), labels, n, config.classes), 0) / subnets.length;
  assert.ok(Math.abs(loss - refLoss(t)) < 1e-5, `loss ${loss} vs ${refLoss(t)}`);
  const eps = 1e-4;
  let maxdiff = 0;
  const rng = new Rng(7);
  for (const name of Object.keys(t)) {
    for (let k = 0; k < 6; k++) {
      const i = rng.int(t[name]!.data.length);
      const perturb = (d: number) => {
        const copy = Object.fromEntries(Object.entries(t).map(([kk, v]) => [kk, { dims: v.dims, data: Float64Array.from(v.data) as unknown as Float32Array }]));
        copy[name]!.data[i] = copy[name]!.data[i]! + d;
        return refLoss(copy);
      };
      const fd = (perturb(eps) - perturb(-eps)) / (2 * eps);
      maxdiff = Math.max(maxdiff, Math.abs(grads[name]![i]! - fd));
    }
  }
  console.log(`  sorted loss gradient vs finite differences: maxdiff ${maxdiff.toExponential(2)}`);
  assert.ok(maxdiff < 1e-4, `maxdiff ${maxdiff}`);
  model.dispose();
});

void test('a step computes the first layer once for all its widths: the gradient equals the subnets\' own gradients summed', () => {
  const model = SortedMlp.fromTensors(randomTensors(8), { trainable: true });
  const n = 4;
  const batch = { x: randomArray(n * config.inputSize, new Rng(9)), labels: new Uint8Array([2, 0, 4, 1]), n };
  const subnets = [{ depth: 3, width: 1 }, { depth: 1, width: 0.25 }, { depth: 2, width: 0.5 }, { depth: 1, width: 0.75 }];
  const together = computeGradients(model, batch, subnets, 'sum');
  const apart = subnets.map((s) => computeGradients(model, batch, [s], 'sum'));
  let maxdiff = 0;
  for (const [name, g] of Object.entries(together.grads)) {
    g.forEach((v, i) => (maxdiff = Math.max(maxdiff, Math.abs(v - apart.reduce((a, r) => a + (r.grads[name]?.[i] ?? 0), 0)))));
  }
  assert.ok(Math.abs(together.loss - apart.reduce((a, r) => a + r.loss, 0) / subnets.length) < 1e-6);
  console.log(`  one shared first layer vs per-subnet gradients: maxdiff ${maxdiff.toExponential(2)}`);
  assert.ok(maxdiff < 1e-5, `maxdiff ${maxdiff}`);
  model.dispose();
});
