// The sorted CNN's training pieces: the fused batch-norm gradient against float64 finite
// differences, one training step that leaks no tensors, calibration that measures the
// population statistics, and a checkpoint round trip.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { bnStatsKey, BN_EPSILON } from '../../runtime/graphs/cnn.js';
import { initBackend } from '../../training/backend.js';
import { batchNormTrain, type BnActivation } from '../../training/models/batchnorm.js';
import { conv2d } from '../../training/models/conv.js';
import { forwardCnnSubnet, initCnnTensors, SortedCnn, type CnnConfig } from '../../training/models/cnn.js';
import { softmaxCrossEntropy } from '../../training/models/loss.js';
import { Rng } from '../../training/rng.js';
import { latticeOf } from '../../training/spec.js';
import { randomImages } from '../cnn-fixture.js';
import { convOutSize, dot, finiteDiff, refCnnLoss, refConv, type ConvShape } from './cnn-helpers.js';
import { maxAbsDiff, randomArray } from './helpers.js';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

const CONFIG: CnnConfig = { imageSize: 8, inChannels: 1, classes: 3, channels: 4, stages: 2, blocks: 2, stemStride: 1 };

/** Training-mode batch norm in float64, x [m, c] (m = n*h*w rows). */
function refBatchNorm(x: Float64Array, gamma: Float64Array, beta: Float64Array, m: number, act: BnActivation, res?: Float64Array): Float64Array {
  const c = gamma.length;
  const y = new Float64Array(m * c);
  for (let k = 0; k < c; k++) {
    let mu = 0;
    for (let i = 0; i < m; i++) mu += x[i * c + k]!;
    mu /= m;
    let v = 0;
    for (let i = 0; i < m; i++) v += (x[i * c + k]! - mu) ** 2;
    v /= m;
    for (let i = 0; i < m; i++) {
      let z = (gamma[k]! * (x[i * c + k]! - mu)) / Math.sqrt(v + BN_EPSILON) + beta[k]!;
      if (res) z += res[i * c + k]!;
      y[i * c + k] = act === 'relu' ? Math.max(0, z) : z;
    }
  }
  return y;
}

for (const [act, withResidual] of [['relu', false], ['linear', false], ['relu', true]] as const) {
  void test(`batch norm (${act}${withResidual ? ', residual' : ''}) gradient matches float64 finite differences`, () => {
    const rng = new Rng(7);
    const [n, h, w, c] = [3, 2, 2, 3];
    const m = n * h * w;
    const x = randomArray(m * c, rng);
    const gamma = randomArray(c, rng, 1.5);
    const beta = randomArray(c, rng);
    const res = randomArray(m * c, rng);
    const dy = randomArray(m * c, rng);
    const grads = tf.tidy(() => {
      const args = [tf.tensor4d(x, [n, h, w, c]), tf.tensor1d(gamma), tf.tensor1d(beta), ...(withResidual ? [tf.tensor4d(res, [n, h, w, c])] : [])];
      const f = (...t: tf.Tensor[]) => batchNormTrain(t[0] as tf.Tensor4D, t[1] as tf.Tensor1D, t[2] as tf.Tensor1D, act, t[3] as tf.Tensor4D | undefined);
      return tf.grads(f)(args, tf.tensor4d(dy, [n, h, w, c])).map((g) => g.dataSync());
    });
    const x64 = Float64Array.from(x);
    const g64 = Float64Array.from(gamma);
    const b64 = Float64Array.from(beta);
    const r64 = withResidual ? Float64Array.from(res) : undefined;
    const loss = () => dot(refBatchNorm(x64, g64, b64, m, act, r64), dy);
    const expected = [finiteDiff(x64, loss, 1e-5), finiteDiff(g64, loss, 1e-5), finiteDiff(b64, loss, 1e-5), ...(r64 ? [finiteDiff(r64, loss, 1e-5)] : [])];
    for (const [i, name] of ['dx', 'dgamma', 'dbeta', 'dresidual'].slice(0, expected.length).entries()) {
      const d = maxAbsDiff(grads[i]!, expected[i]!);
      console.log(`  ${name} maxdiff ${d.toExponential(2)}`);
      assert.ok(d < 2e-4, `${name} maxdiff ${d}`);
    }
  });
}

for (const s of [
  { n: 2, h: 6, w: 6, ci: 3, co: 4, kh: 3, kw: 3, stride: 1, pad: 1 },
  { n: 2, h: 7, w: 7, ci: 3, co: 2, kh: 3, kw: 3, stride: 2, pad: 1 },
  { n: 2, h: 6, w: 6, ci: 3, co: 4, kh: 1, kw: 1, stride: 2, pad: 0 },
  { n: 2, h: 7, w: 5, ci: 2, co: 3, kh: 1, kw: 1, stride: 2, pad: 0 },
] satisfies ConvShape[]) {
  void test(`model conv op (k${s.kh}, stride ${s.stride}, ${s.h}x${s.w}): forward and gradients match float64 references`, () => {
    const rng = new Rng(11);
    const oh = convOutSize(s.h, s.kh, s.stride, s.pad);
    const ow = convOutSize(s.w, s.kw, s.stride, s.pad);
    const x = randomArray(s.n * s.h * s.w * s.ci, rng);
    const w = randomArray(s.kh * s.kw * s.ci * s.co, rng);
    const dy = randomArray(s.n * oh * ow * s.co, rng);
    const [y, gx, gw] = tf.tidy(() => {
      const xt = tf.tensor4d(x, [s.n, s.h, s.w, s.ci]);
      const wt = tf.tensor4d(w, [s.kh, s.kw, s.ci, s.co]);
      const f = (a: tf.Tensor, b: tf.Tensor) => conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s.stride, s.pad);
      const g = tf.grads(f)([xt, wt], tf.tensor4d(dy, [s.n, oh, ow, s.co]));
      return [f(xt, wt).dataSync(), g[0]!.dataSync(), g[1]!.dataSync()];
    });
    const x64 = Float64Array.from(x);
    const w64 = Float64Array.from(w);
    const dy1 = maxAbsDiff(y!, refConv(x64, w64, s));
    const dx = maxAbsDiff(gx!, finiteDiff(x64, (p) => dot(refConv(p, w64, s), dy)));
    const dw = maxAbsDiff(gw!, finiteDiff(w64, (p) => dot(refConv(x64, p, s), dy)));
    console.log(`  y maxdiff ${dy1.toExponential(2)}, dx ${dx.toExponential(2)}, dW ${dw.toExponential(2)}`);
    assert.ok(dy1 < 1e-5 && dx < 1e-4 && dw < 1e-4);
  });
}

for (const stemStride of [1, 2]) {
  void test(`whole-model gradient of a sliced subnet (stemStride ${stemStride}) matches float64 finite differences of a reference CNN`, () => {
    const config: CnnConfig = { imageSize: 6, inChannels: 1, classes: 3, channels: 3, stages: 2, blocks: 2, stemStride };
    const rng = new Rng(21);
    const tensors = initCnnTensors(config, rng);
    for (const [name, t] of Object.entries(tensors)) if (/bn.*\.(weight|bias)$/.test(name)) for (let i = 0; i < t.data.length; i++) t.data[i] = name.endsWith('weight') ? rng.uniform(0.5, 1.5) : rng.uniform(-0.3, 0.3);
    const model = SortedCnn.fromTensors(tensors, config, { trainable: true });
    const n = 4;
    const x = randomImages(n, config, rng);
    const labels = [0, 2, 1, 2];
    const levels = { depth: 2, width: 0.67 }; // 2 of 3 channels, then 4 of 6
    const { loss, grads } = tf.tidy(() => {
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 3) as tf.Tensor2D;
      const { value, grads } = tf.variableGrads(() => softmaxCrossEntropy(model.forward(tf.tensor2d(x, [n, 36]), levels), y), model.variables());
      const out: Record<string, Float32Array> = {};
      for (const [name, g] of Object.entries(grads)) out[model.tensorName(name)!] = g.dataSync() as Float32Array;
      return { loss: value.dataSync()[0]!, grads: out };
    });
    const ref = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, { dims: t.dims, data: Float64Array.from(t.data) }]));
    const refLoss = () => refCnnLoss(ref, config, levels.depth, levels.width, x, labels, n);
    assert.ok(Math.abs(loss - refLoss()) < 1e-5, `loss ${loss} vs reference ${refLoss()}`);
    let worst = 0;
    let checked = 0;
    for (const [name, t] of Object.entries(ref)) {
      const g = grads[name]!;
      for (let probe = 0; probe < 4; probe++) {
        const i = rng.int(t.data.length);
        const keep = t.data[i]!;
        t.data[i] = keep + 1e-4;
        const up = refLoss();
        t.data[i] = keep - 1e-4;
        const down = refLoss();
        t.data[i] = keep;
        worst = Math.max(worst, Math.abs(g[i]! - (up - down) / 2e-4));
        checked++;
      }
    }
    console.log(`  ${checked} parameters, gradient maxdiff ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-3, `gradient maxdiff ${worst}`);
    model.dispose();
  });
}

void test('one training step of the sorted CNN leaks no tensors', () => {
  const model = SortedCnn.init(CONFIG, new Rng(1));
  const optimizer = tf.train.adam(1e-3);
  const rng = new Rng(2);
  const x = randomImages(8, CONFIG, rng);
  const step = (levels: { depth: number; width: number }[]) => tf.tidy(() => {
    const xs = tf.tensor2d(x, [8, 64]);
    const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
    optimizer.minimize(() => tf.addN(levels.map((l) => tf.losses.softmaxCrossEntropy(ys, model.forward(xs, l)))) as tf.Scalar, false, model.variables());
  });
  step([{ depth: 2, width: 1 }]); // Adam creates its moment variables on the first step
  const before = tf.memory().numTensors;
  step([{ depth: 2, width: 1 }, { depth: 1, width: 0.5 }]);
  assert.equal(tf.memory().numTensors, before);
  const sizes = model.variables().map((v) => v.size);
  assert.ok(sizes.every((s) => s > 0));
  optimizer.dispose();
  model.dispose();
});

void test('calibration stores the population statistics of each subnet, keyed by what runs before the batch norm', () => {
  const model = SortedCnn.init(CONFIG, new Rng(3));
  const rng = new Rng(4);
  const n = 12;
  const x = randomImages(n, CONFIG, rng);
  const lattice = latticeOf({ depth: [1, 2], width: [0.5, 1] });
  const before = tf.memory().numTensors;
  model.calibrate(x, n, lattice, { batch: 5 }); // uneven batches: sums, not means of means
  assert.equal(tf.memory().numTensors, before);
  // Stage 0 does not depend on depth; stage 1 does.
  assert.ok(model.stats.has('stem.bn.stats.w50'));
  assert.ok(model.stats.has('stages.0.blocks.1.bn1.stats.w100'));
  assert.ok(model.stats.has('stages.1.blocks.0.bn1.stats.d1-w50'));
  assert.ok(model.stats.has('stages.1.blocks.1.bn2.stats.d2-w100'));
  assert.ok(!model.stats.has('stages.1.blocks.1.bn2.stats.d1-w100'));
  // The stem's statistics are those of its conv output over all n images.
  const stem = model.convs[0]!;
  const expected = tf.tidy(() => {
    const w = tf.slice(model.weight('stem.conv.weight')!, [0, 0, 0, 0], [3, 3, 1, 2]) as tf.Tensor4D;
    const y = tf.conv2d(tf.tensor4d(x, [n, 8, 8, 1]), w, 1, 1);
    const { mean, variance } = tf.moments(y, [0, 1, 2]);
    return [mean.dataSync(), variance.dataSync()];
  });
  const got = model.stats.get(`stem.bn.stats.${bnStatsKey(stem, 1, 0.5)}`)!;
  assert.ok(maxAbsDiff(got.mean, expected[0]!) < 1e-5);
  assert.ok(maxAbsDiff(got.variance, expected[1]!) < 1e-5);
  model.dispose();
});

void test('checkpoint round trip: toTensors then fromTensors gives the same eval logits', () => {
  const model = SortedCnn.init(CONFIG, new Rng(5));
  const rng = new Rng(6);
  const lattice = latticeOf({ depth: [1, 2], width: [0.5, 1] });
  model.calibrate(randomImages(16, CONFIG, rng), 16, lattice);
  const x = randomImages(4, CONFIG, rng);
  const copy = SortedCnn.fromTensors(model.toTensors(), CONFIG);
  for (const levels of lattice) {
    const d = maxAbsDiff(forwardCnnSubnet(model, levels, x, 4), forwardCnnSubnet(copy, levels, x, 4));
    assert.equal(d, 0);
  }
  assert.throws(() => forwardCnnSubnet(copy, { depth: 1, width: 0.25 }, x, 4), /stats\.w25\.mean: missing\. Fix: run model\.calibrate/);
  assert.throws(() => SortedCnn.fromTensors({}, CONFIG), /stem\.conv\.weight: missing/);
  assert.throws(() => SortedCnn.init({ ...CONFIG, stages: 4 }, new Rng(0)), /config\.imageSize: 8\. Fix: use at least 16 pixels/);
  copy.dispose();
  model.dispose();
});
