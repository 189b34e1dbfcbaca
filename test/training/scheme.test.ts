// The training scheme shared by the three loops: step plans (uniform, sandwich, all-exits),
// AdamW (equal to Adam without decay; decay decoupled and only on weights; state restores
// bit for bit), the distillation loss against a float64 reference and finite differences,
// and a step of each loop leaking no tensors with distillation and weight decay on.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../training/backend.js';
import { resolveConfig } from '../../training/config.js';
import { train } from '../../training/loop.js';
import { loadFashionMnist, subsetDir, type Dataset } from '../../training/data/fashion-mnist.js';
import { lmStep, sampleWindows } from '../../training/lm.js';
import { SortedCnn } from '../../training/models/cnn.js';
import { SortedGpt } from '../../training/models/gpt.js';
import { softmaxCrossEntropy } from '../../training/models/loss.js';
import { SortedMlp } from '../../training/models/mlp.js';
import { Rng } from '../../training/rng.js';
import { AdamW } from '../../training/scheme/adamw.js';
import { samplingAt } from '../../training/scheme/config.js';
import { distilled, softTargetKl, softTargets } from '../../training/scheme/distill.js';
import { costWeight, planStep } from '../../training/scheme/sampling.js';
import { latticeOf, subnetId } from '../../training/spec.js';
import { smoothTargets, trainStep } from '../../training/step.js';
import { cnnTrainStep, resolveCnnConfig } from '../../training/train-cnn.js';
import { resolveGptConfig } from '../../training/train-gpt.js';
import { compile, trainBpe } from '../../training/tokenizer.js';
import { SortedNetError } from '../../runtime/errors.js';
import { maxAbsDiff, randomArray } from './helpers.js';

let data: Dataset;
before(async () => {
  await initBackend('wasm');
  data = await loadFashionMnist({ dir: subsetDir(), limitTrain: 256, limitTest: 100 });
});

const dims = { depth: [1, 2, 3], width: [0.25, 0.5, 1] };

void test('step plans: all-exits trains every depth of g widths in one pass each; uniform and sandwich as sampled', () => {
  const rng = new Rng(3);
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const { subnets, passes } = planStep(dims, 2, 'all-exits', rng);
    assert.equal(passes.length, 2);
    assert.notEqual(passes[0]!.levels.width, passes[1]!.levels.width, 'distinct widths');
    for (const p of passes) assert.deepEqual(p.depths, [1, 2, 3]);
    assert.equal(subnets.length, 6);
    passes.forEach((p) => seen.add(String(p.levels.width)));
  }
  assert.equal(seen.size, 3, 'every width gets drawn');
  assert.equal(planStep(dims, 9, 'all-exits', rng).passes.length, 3, 'g >= widths: all of them');
  const sandwich = planStep(dims, 4, 'sandwich', rng);
  assert.deepEqual(sandwich.subnets.slice(0, 2).map(subnetId), ['d3-w100', 'd1-w25']);
  // Subnets that share a width share a pass.
  assert.equal(sandwich.passes.reduce((n, p) => n + p.depths.length, 0), 4);
  assert.equal(new Set(sandwich.passes.map((p) => p.levels.width)).size, sandwich.passes.length);
  const uniform = planStep(dims, 3, 'uniform', rng);
  assert.equal(new Set(uniform.subnets.map(subnetId)).size, 3);
  // sandwich-exits: the largest, every depth of the narrowest width in one pass, g - 2 others.
  const drawn = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const se = planStep(dims, 3, 'sandwich-exits', rng);
    assert.deepEqual(se.subnets.slice(0, 4).map(subnetId), ['d3-w100', 'd1-w25', 'd2-w25', 'd3-w25']);
    assert.equal(se.subnets.length, 5);
    assert.deepEqual(se.passes[1], { levels: { width: 0.25 }, depths: [1, 2, 3] });
    const other = subnetId(se.subnets[4]!);
    assert.ok(!['d3-w100', 'd1-w25', 'd2-w25', 'd3-w25'].includes(other), other);
    drawn.add(other);
  }
  assert.equal(drawn.size, 9 - 4, 'every other subnet gets drawn');
  assert.deepEqual(planStep({ width: [0.5, 1] }, 3, 'sandwich-exits', rng).subnets, [{ width: 1 }, { width: 0.5 }], 'no depth dim: plain sandwich');
  // ends-exits: every depth of the widest and of the narrowest width, one pass each, g - 2 others.
  const drawnEE = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const ee = planStep(dims, 3, 'ends-exits', rng);
    assert.deepEqual(ee.subnets.slice(0, 6).map(subnetId), ['d3-w100', 'd1-w100', 'd2-w100', 'd1-w25', 'd2-w25', 'd3-w25'], 'the largest first');
    assert.equal(ee.subnets.length, 7);
    assert.deepEqual(ee.passes.slice(0, 2), [{ levels: { width: 1 }, depths: [3, 1, 2] }, { levels: { width: 0.25 }, depths: [1, 2, 3] }]);
    drawnEE.add(subnetId(ee.subnets[6]!));
  }
  assert.deepEqual([...drawnEE].sort(), ['d1-w50', 'd2-w50', 'd3-w50'], 'the random slot draws from the middle width');
  // Same seed, same plans.
  const a = new Rng(9), b = new Rng(9);
  for (let i = 0; i < 10; i++) assert.deepEqual(planStep(dims, 2, 'all-exits', a), planStep(dims, 2, 'all-exits', b));
});

void test('cost-weighted sampling: draws follow MACs^-power, the sandwich ends stay, power 0 is the uniform draw', () => {
  const dims = { depth: [1, 2, 3], width: [0.25, 0.5, 1] };
  // Cost: depth x width^2, a stand-in for MACs.
  const cost = (l: { depth?: number; width?: number }) => 1000 * (l.depth ?? 3) * (l.width ?? 1) ** 2;
  assert.equal(costWeight(cost, 0), undefined, 'power 0: the plain uniform draw');
  // Power 0 keeps the seeded plans of before (rng.choose).
  const a = new Rng(4), b = new Rng(4);
  for (let i = 0; i < 20; i++) assert.deepEqual(planStep(dims, 3, 'sandwich', a, costWeight(cost, 0)), planStep(dims, 3, 'sandwich', b));
  const middle = latticeOf(dims).slice(1, -1);
  const weight = costWeight(cost, 1)!;
  const total = middle.reduce((s, l) => s + weight(l), 0);
  const counts = new Map<string, number>();
  const rng = new Rng(11);
  const n = 20000;
  let macs = 0;
  for (let i = 0; i < n; i++) {
    const plan = planStep(dims, 3, 'sandwich', rng, weight);
    assert.deepEqual(plan.subnets.slice(0, 2).map(subnetId), ['d3-w100', 'd1-w25'], 'the ends every step');
    const id = subnetId(plan.subnets[2]!);
    counts.set(id, (counts.get(id) ?? 0) + 1);
    macs += cost(plan.subnets[2]!);
  }
  for (const l of middle) {
    const expected = weight(l) / total;
    const got = (counts.get(subnetId(l)) ?? 0) / n;
    // Binomial standard error at n = 20000 is under 0.0036; allow 4 of them.
    assert.ok(Math.abs(got - expected) < 0.015, `${subnetId(l)}: drawn ${got.toFixed(4)}, expected ${expected.toFixed(4)}`);
  }
  // Weighting by 1/cost makes the random pick cheaper than the uniform one on average.
  const uniformMacs = middle.reduce((s, l) => s + cost(l), 0) / middle.length;
  assert.ok(macs / n < 0.6 * uniformMacs, `weighted ${macs / n} against uniform ${uniformMacs}`);
  // Several draws are distinct; uniform and all-exits draws are weighted too.
  for (let i = 0; i < 50; i++) {
    const u = planStep(dims, 4, 'uniform', rng, weight).subnets.map(subnetId);
    assert.equal(new Set(u).size, 4);
    const groups = planStep(dims, 2, 'all-exits', rng, weight).passes.map((p) => JSON.stringify(p.levels));
    assert.equal(new Set(groups).size, 2);
  }
  const wide = Array.from({ length: 2000 }, () => planStep(dims, 1, 'all-exits', rng, weight).passes[0]!.levels.width);
  const share = (w: number) => wide.filter((x) => x === w).length / wide.length;
  // Width groups weigh 1/0.0625 : 1/0.25 : 1/1 = 16 : 4 : 1 at their deepest subnet.
  assert.ok(Math.abs(share(0.25) - 16 / 21) < 0.04 && Math.abs(share(1) - 1 / 21) < 0.03, `${share(0.25)} ${share(0.5)} ${share(1)}`);
  // The config checks the power and names the flag's field.
  assert.throws(() => resolveCnnConfig({ costPower: -1 }), (e: unknown) => e instanceof SortedNetError && e.field === 'costPower');
  assert.equal(resolveCnnConfig({ costPower: 0.5 }).costPower, 0.5);
  assert.equal(resolveConfig({}).costPower, 0);
});

void test('AdamW without decay is Adam; decay is decoupled and skips biases; its state restores exactly', () => {
  const rng = new Rng(1);
  const w0 = randomArray(12, rng), b0 = randomArray(4, rng);
  const grads = Array.from({ length: 4 }, () => [randomArray(12, rng), randomArray(4, rng)] as const);
  const run = (opt: tf.Optimizer, steps = grads.length, w = tf.variable(tf.tensor2d(w0, [3, 4])), b = tf.variable(tf.tensor1d(b0))) => {
    for (const [gw, gb] of grads.slice(0, steps)) tf.tidy(() => opt.applyGradients({ [w.name]: tf.tensor2d(gw, [3, 4]), [b.name]: tf.tensor1d(gb) }));
    return { w, b };
  };
  const adam = run(tf.train.adam(0.01, 0.9, 0.999, 1e-8));
  const plain = run(new AdamW({ lr: 0.01 }));
  const d = Math.max(maxAbsDiff(adam.w.dataSync(), plain.w.dataSync()), maxAbsDiff(adam.b.dataSync(), plain.b.dataSync()));
  assert.ok(d < 1e-6, `AdamW(wd=0) vs tf.train.adam maxdiff ${d}`);

  // One step by hand, in float64: w -= lr * (mhat / (sqrt(vhat) + eps)) + lr * wd * w; biases do not decay.
  const lr = 0.01, wd = 0.5;
  const one = run(new AdamW({ lr, weightDecay: wd }), 1);
  const [gw, gb] = grads[0]!;
  const expect = (x0: Float32Array, g: Float32Array, decay: boolean) => Array.from(x0, (x, i) => x - lr * (g[i]! / (Math.abs(g[i]!) + 1e-8)) - (decay ? lr * wd * x : 0));
  assert.ok(maxAbsDiff(one.w.dataSync(), expect(w0, gw, true)) < 1e-6, 'weights decay');
  assert.ok(maxAbsDiff(one.b.dataSync(), expect(b0, gb, false)) < 1e-6, 'biases do not');

  // Stop after 2 steps, export, import into a fresh optimizer and fresh variables, continue: same bits.
  const full = run(new AdamW({ lr, weightDecay: wd }));
  const first = new AdamW({ lr, weightDecay: wd });
  const half = run(first, 2);
  const state = first.exportState([half.w, half.b], (_, i) => ['w', 'b'][i]!);
  assert.equal(state.step, 2);
  const second = new AdamW({ lr, weightDecay: wd });
  const w = tf.variable(tf.tensor2d(half.w.dataSync() as Float32Array, [3, 4])), b = tf.variable(tf.tensor1d(half.b.dataSync() as Float32Array));
  second.importState(state, [w, b], (_, i) => ['w', 'b'][i]!);
  for (const [gw2, gb2] of grads.slice(2)) tf.tidy(() => second.applyGradients({ [w.name]: tf.tensor2d(gw2, [3, 4]), [b.name]: tf.tensor1d(gb2) }));
  assert.equal(maxAbsDiff(w.dataSync(), full.w.dataSync()), 0, 'resumed weights are bit-identical');
  assert.equal(maxAbsDiff(b.dataSync(), full.b.dataSync()), 0);
  tf.dispose([adam.w, adam.b, plain.w, plain.b, one.w, one.b, full.w, full.b, half.w, half.b, w, b]);
});

/** KL(softmax(t/T) || softmax(s/T)) * T^2, mean over rows, in float64. */
function refKl(s: ArrayLike<number>, t: ArrayLike<number>, n: number, c: number, T: number): number {
  let total = 0;
  const logSoftmax = (x: ArrayLike<number>, r: number) => {
    const row = Array.from({ length: c }, (_, j) => x[r * c + j]! / T);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    return row.map((v) => v - lse);
  };
  for (let r = 0; r < n; r++) {
    const lp = logSoftmax(t, r), lq = logSoftmax(s, r);
    total += lp.reduce((a, v, j) => a + Math.exp(v) * (v - lq[j]!), 0);
  }
  return (T * T * total) / n;
}

void test('distillation loss: value and gradient match float64, no gradient reaches the teacher', () => {
  const n = 5, c = 7, T = 2;
  const rng = new Rng(4);
  const s = randomArray(n * c, rng, 3), t = randomArray(n * c, rng, 3);
  const student = tf.variable(tf.tensor2d(s, [n, c]));
  const teacher = tf.variable(tf.tensor2d(t, [n, c]));
  const targets = softTargets(teacher, T); // outside the gradient function, as the loops do
  const { value, grads } = tf.variableGrads(() => softTargetKl(student, targets), [student, teacher]);
  const ref = refKl(s, t, n, c, T);
  assert.ok(Math.abs(value.dataSync()[0]! - ref) < 1e-5, `KL ${value.dataSync()[0]} vs ${ref}`);
  assert.equal(grads[teacher.name], undefined, 'the teacher is detached');
  const eps = 1e-3;
  let maxdiff = 0;
  for (let i = 0; i < n * c; i++) {
    const plus = Float64Array.from(s), minus = Float64Array.from(s);
    plus[i]! += eps;
    minus[i]! -= eps;
    maxdiff = Math.max(maxdiff, Math.abs(grads[student.name]!.dataSync()[i]! - (refKl(plus, t, n, c, T) - refKl(minus, t, n, c, T)) / (2 * eps)));
  }
  console.log(`  KL gradient vs float64 finite differences: maxdiff ${maxdiff.toExponential(2)}`);
  assert.ok(maxdiff < 1e-4, `maxdiff ${maxdiff}`);
  // The mix: (1 - a) * CE + a * KL; a = 0 is the plain cross-entropy.
  const y = tf.cast(tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4], 'int32'), c), 'float32') as tf.Tensor2D;
  const ce = softmaxCrossEntropy(student, y).dataSync()[0]!;
  const mixed = distilled(softmaxCrossEntropy(student, y), student, targets, 0.25).dataSync()[0]!;
  assert.ok(Math.abs(mixed - (0.75 * ce + 0.25 * ref)) < 1e-5);
  assert.equal(distilled(softmaxCrossEntropy(student, y), student, targets, 0).dataSync()[0]!, ce);
  tf.dispose([student, teacher, targets.probs, targets.plogp, value, ...Object.values(grads), y]);
});

void test('a step of each loop leaks no tensors with distillation and weight decay on', () => {
  const distill = { distill: { alpha: 0.5, temperature: 2 } };
  const leaks = (name: string, step: () => void) => {
    step(); // the optimizer creates its moments on the first step
    const before = tf.memory().numTensors;
    step();
    step();
    assert.equal(tf.memory().numTensors, before, `${name}: a step leaves no tensors behind`);
  };
  // MLP, all-exits.
  const mlp = SortedMlp.init({ inputSize: 784, hidden: 16, classes: 10 }, 3, new Rng(0));
  const mlpOpt = new AdamW({ lr: 1e-3, weightDecay: 0.1 });
  const batch = { x: data.train.images.subarray(0, 16 * 784), labels: data.train.labels.subarray(0, 16), n: 16 };
  const rng = new Rng(1);
  leaks('mlp', () => void trainStep(mlp, mlpOpt, batch, planStep(dims, 2, 'all-exits', rng).subnets, 'mean', distill));
  // CNN, sandwich.
  const cnn = SortedCnn.init({ imageSize: 28, inChannels: 1, classes: 10, channels: 4, stages: 2, blocks: 2, stemStride: 2 }, new Rng(2));
  const cnnOpt = new AdamW({ lr: 1e-3, weightDecay: 0.1 });
  const cnnDims = { depth: [1, 2], width: [0.5, 1] };
  leaks('cnn', () => void cnnTrainStep(cnn, cnnOpt, batch.x.subarray(0, 8 * 784), batch.labels.subarray(0, 8), 8, planStep(cnnDims, 3, 'sandwich', rng).subnets, 'mean', distill));
  // GPT, uniform.
  const text = readFileSync(new URL('../fixtures/lm-tiny.txt', import.meta.url), 'utf8');
  const tok = trainBpe(text, { vocabSize: 280 });
  const tokens = Int32Array.from(compile(tok).encode(text));
  const gpt = SortedGpt.init({ vocabSize: tok.vocabSize, context: 8, dModel: 16, layers: 2, heads: 2, ffnHidden: 32 }, new Rng(3));
  const gptOpt = new AdamW({ lr: 1e-3, beta2: 0.95, weightDecay: 0.1 });
  const gptDims = { depth: [1, 2], heads: [1, 2], ffn: [0.5, 1] };
  leaks('gpt', () => void lmStep(gpt, gptOpt, sampleWindows(tokens, 2, 8, rng), planStep(gptDims, 2, 'uniform', rng).passes, distill));
  for (const o of [mlpOpt, cnnOpt, gptOpt]) o.dispose();
  for (const m of [mlp, cnn, gpt]) m.dispose();
});

void test('train() with all-exits, distillation and weight decay learns and leaves no tensors behind', async () => {
  const before = tf.memory().numTensors;
  const r = await train({ hidden: 16, depths: [1, 2], widths: [0.5, 1], epochs: 2, batch: 32, lr: 0.01, sampling: 'all-exits', groups: 1, distill: 0.5, weightDecay: 0.1, evalEachEpoch: false, data });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(r.checkpoint.spec.training.optimizer && (r.checkpoint.spec.training.optimizer as { name: string }).name, 'adamw');
  assert.ok(r.losses.slice(-3).reduce((a, b) => a + b) < r.losses.slice(0, 3).reduce((a, b) => a + b), 'the loss falls');
});

void test('a late sampling phase takes over at its fraction of the steps, in the loop and the checks', async () => {
  const c = { sampling: 'uniform', groups: 1, lateFrom: 0.5, lateSampling: 'sandwich', lateGroups: 2 } as const;
  assert.deepEqual([0, 4, 5, 9].map((s) => samplingAt(c, s, 10).sampling), ['uniform', 'uniform', 'sandwich', 'sandwich']);
  assert.equal(samplingAt({ ...c, lateFrom: 1 }, 9, 10).sampling, 'uniform', 'lateFrom 1 keeps one phase');
  // The MLP loop: one drawn subnet a step, then the largest and the smallest.
  const plans: string[][] = [];
  await train({ hidden: 16, depths: [1, 2], widths: [0.5, 1], epochs: 1, batch: 32, sampling: 'uniform', groups: 1, lateFrom: 0.5, lateSampling: 'sandwich', lateGroups: 2, evalEachEpoch: false, data, onProgress: (e) => { if (e.type === 'step') plans.push(e.subnets); } });
  assert.equal(plans.length, 8);
  assert.ok(plans.slice(0, 4).every((p) => p.length === 1), JSON.stringify(plans));
  assert.ok(plans.slice(4).every((p) => p.join() === 'd2-w100,d1-w50'), JSON.stringify(plans));
  // Bad values name their field.
  assert.throws(() => resolveCnnConfig({ lateFrom: 0 }), (e: unknown) => e instanceof SortedNetError && e.field === 'lateFrom');
  assert.throws(() => resolveCnnConfig({ lateSampling: 'sandwich', lateGroups: 1, lateFrom: 0.5 }), (e: unknown) => e instanceof SortedNetError && e.field === 'lateGroups');
  assert.throws(() => resolveConfig({ lateSampling: 'nope' as 'uniform' }), (e: unknown) => e instanceof SortedNetError && e.field === 'lateSampling');
});

void test('distillation pulls a small subnet toward the full one', () => {
  // Same start, same batches: with a = 1 the smallest subnet only learns the full one's outputs.
  const run = (alpha: number) => {
    const model = SortedMlp.init({ inputSize: 784, hidden: 16, classes: 10 }, 1, new Rng(5));
    const opt = new AdamW({ lr: 0.01 });
    const x = data.train.images.subarray(0, 64 * 784);
    const batch = { x, labels: data.train.labels.subarray(0, 64), n: 64 };
    for (let s = 0; s < 20; s++) trainStep(model, opt, batch, [{ depth: 1, width: 0.25 }], 'mean', { distill: { alpha, temperature: 1 } });
    const gap = tf.tidy(() => {
      const xs = tf.tensor2d(x, [64, 784]);
      const full = tf.softmax(model.forward(xs, { depth: 1, width: 1 }));
      const small = tf.softmax(model.forward(xs, { depth: 1, width: 0.25 }));
      return tf.mean(tf.abs(tf.sub(full, small))).dataSync()[0]!;
    });
    model.dispose();
    opt.dispose();
    return gap;
  };
  const [plain, taught] = [run(0), run(1)];
  console.log(`  mean |p_full - p_small| after 20 steps: alpha 0 ${plain.toFixed(4)}, alpha 1 ${taught.toFixed(4)}`);
  assert.ok(taught < plain, 'the distilled subnet agrees more with the full one');
});

void test('scheme config: closed vocabularies and ranges, checked in every loop', () => {
  const isField = (field: string) => (e: unknown) => e instanceof SortedNetError && e.field === field;
  assert.throws(() => resolveConfig({ distill: 1.5 }), isField('distill'));
  assert.throws(() => resolveConfig({ sampling: 'all' as never }), isField('sampling'));
  assert.throws(() => resolveCnnConfig({ weightDecay: -1 }), isField('weightDecay'));
  assert.throws(() => resolveGptConfig({ checkpointEvery: 2.5 }), isField('checkpointEvery'));
  assert.throws(() => resolveGptConfig({ distillTemperature: 0 }), isField('distillTemperature'));
  assert.equal(resolveGptConfig({}).sampling, 'all-exits');
  assert.equal(resolveConfig({ sampling: 'all-exits', groups: 1 }).sampling, 'all-exits');
  assert.deepEqual(latticeOf({ depth: [1], width: [1] }).map(subnetId), ['d1-w100']);
});

void test('label smoothing: targets (1 - e) one-hot + e / classes, and the CNN and MLP steps train against them', () => {
  const t = smoothTargets(tf.cast(tf.oneHot(tf.tensor1d([2, 0], 'int32'), 4), 'float32') as tf.Tensor2D, 0.2);
  assert.deepEqual(Array.from(t.dataSync()).map((v) => Math.round(v * 1e6) / 1e6), [0.05, 0.05, 0.85, 0.05, 0.85, 0.05, 0.05, 0.05]);
  t.dispose();
  // Cross-entropy is linear in the targets: on the same start and batch, the loss at e = 0.1 is
  // 0.9 x the loss against the labels plus 0.1 x the loss against the uniform targets (e = 1).
  const x = data.train.images.subarray(0, 8 * 784);
  const labels = data.train.labels.subarray(0, 8);
  const cnnLoss = (e: number) => {
    const model = SortedCnn.init({ imageSize: 28, inChannels: 1, classes: 10, channels: 4, stages: 2, blocks: 2, stemStride: 2 }, new Rng(4));
    const opt = new AdamW({ lr: 1e-3 });
    const loss = cnnTrainStep(model, opt, x, labels, 8, [{ depth: 2, width: 1 }, { depth: 1, width: 0.5 }], 'mean', { labelSmoothing: e });
    opt.dispose();
    model.dispose();
    return loss;
  };
  const mlpLoss = (e: number) => {
    const model = SortedMlp.init({ inputSize: 784, hidden: 16, classes: 10 }, 2, new Rng(4));
    const opt = new AdamW({ lr: 1e-3 });
    const loss = trainStep(model, opt, { x, labels, n: 8 }, [{ depth: 2, width: 1 }, { depth: 1, width: 0.5 }], 'mean', { labelSmoothing: e });
    opt.dispose();
    model.dispose();
    return loss;
  };
  for (const [name, loss] of [['cnn', cnnLoss], ['mlp', mlpLoss]] as const) {
    const [hard, uniform, smoothed] = [loss(0), loss(1), loss(0.1)];
    assert.ok(uniform > hard + 0.01, `${name}: the uniform targets' loss differs from the labels' (${uniform} against ${hard})`);
    assert.ok(Math.abs(smoothed - (0.9 * hard + 0.1 * uniform)) < 1e-5, `${name}: ${smoothed} against ${0.9 * hard + 0.1 * uniform}`);
  }
  assert.throws(() => resolveCnnConfig({ labelSmoothing: 1 }), (e: unknown) => e instanceof SortedNetError && e.field === 'labelSmoothing' && /\[0, 1\)/.test(e.message));
  assert.equal(resolveCnnConfig({ labelSmoothing: 0.1 }).labelSmoothing, 0.1);
});
