// Loss weights of a sorted step: the GPT's weight per depth exit (`exitWeights`) and the full
// subnet's weight (`largestWeight`), each checked on the step's gradients and in every loop's config.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../training/backend.js';
import { resolveConfig } from '../../training/config.js';
import { loadFashionMnist, subsetDir, type Dataset } from '../../training/data/fashion-mnist.js';
import { lmStep, sampleWindows } from '../../training/lm.js';
import { SortedCnn } from '../../training/models/cnn.js';
import { SortedGpt } from '../../training/models/gpt.js';
import { Rng } from '../../training/rng.js';
import { cnnTrainStep, resolveCnnConfig } from '../../training/train-cnn.js';
import { resolveGptConfig } from '../../training/train-gpt.js';
import { compile, trainBpe } from '../../training/tokenizer.js';
import { SortedNetError } from '../../runtime/errors.js';
import { maxAbsDiff } from './helpers.js';

let data: Dataset;
before(async () => {
  await initBackend('wasm');
  data = await loadFashionMnist({ dir: subsetDir(), limitTrain: 64, limitTest: 10 });
});

void test('GPT exit weights: each depth exit\'s loss is scaled by its weight (weight 2 everywhere doubles the gradient); bad weights are rejected', () => {
  const text = readFileSync(new URL('../fixtures/lm-tiny.txt', import.meta.url), 'utf8');
  const tok = trainBpe(text, { vocabSize: 280 });
  const tokens = Int32Array.from(compile(tok).encode(text));
  const batch = sampleWindows(tokens, 2, 8, new Rng(7));
  const passes = [{ levels: { heads: 2, ffn: 1 }, depths: [1, 2] }];
  const gpt = SortedGpt.init({ vocabSize: tok.vocabSize, context: 8, dModel: 16, layers: 2, heads: 2, ffnHidden: 32 }, new Rng(3));
  // The step's gradients, read by an optimizer that applies nothing (so every call starts alike).
  const grads = (depthWeight?: (d: number) => number): Float32Array[] => {
    let out: Float32Array[] = [];
    const before = tf.memory().numTensors;
    const reader = { applyGradients: (grads: { tensor?: tf.Tensor }[]) => void (out = grads.map((g) => Float32Array.from(g.tensor?.dataSync() ?? []))) };
    lmStep(gpt, reader as unknown as tf.Optimizer, batch, passes, { depthWeight });
    assert.equal(tf.memory().numTensors, before, 'a weighted step leaves no tensors behind');
    return out;
  };
  lmStep(gpt, { applyGradients: () => undefined } as unknown as tf.Optimizer, batch, passes); // first call at this length caches the causal mask (gpt-ops.ts)
  const plain = grads();
  const ones = grads(() => 1);
  const twice = grads(() => 2);
  const shallow = grads((d) => (d === 1 ? 3 : 1));
  for (let i = 0; i < plain.length; i++) {
    assert.deepEqual(ones[i], plain[i], 'weight 1 is the plain sum');
    assert.ok(maxAbsDiff(twice[i]!, plain[i]!.map((x) => 2 * x)) < 1e-5, 'weight 2 on every exit doubles the gradient');
  }
  assert.ok(shallow.some((d, i) => maxAbsDiff(d, plain[i]!) > 1e-6), 'weighting one exit changes the step');
  gpt.dispose();
  const isField = (e: unknown) => e instanceof SortedNetError && e.field === 'exitWeights';
  assert.throws(() => resolveGptConfig({ exitWeights: [1, 2] }), isField, 'one weight per depth level (4 by default)');
  assert.throws(() => resolveGptConfig({ exitWeights: [1, 1, 0, 1] }), isField, 'weights are positive');
  assert.deepEqual(resolveGptConfig({ exitWeights: [2, 1.5, 1, 1] }).exitWeights, [2, 1.5, 1, 1]);
  assert.deepEqual(resolveGptConfig({}).exitWeights, []);
});

void test('largest weight: the full subnet\'s loss counts W times in a step where it trains, the others once; bad weights name their field', () => {
  const x = data.train.images.subarray(0, 8 * 784);
  const labels = data.train.labels.subarray(0, 8);
  const cnn = SortedCnn.init({ imageSize: 28, inChannels: 1, classes: 10, channels: 4, stages: 2, blocks: 2, stemStride: 2 }, new Rng(5));
  const full = { depth: 2, width: 1 };
  const small = { depth: 1, width: 0.5 };
  // The step's gradients (summed losses), read by an optimizer that applies nothing.
  const grads = (subnets: { depth: number; width: number }[], largestWeight?: number): Float32Array[] => {
    let out: Float32Array[] = [];
    const before = tf.memory().numTensors;
    const reader = { applyGradients: (gs: { tensor?: tf.Tensor }[]) => void (out = gs.map((g) => Float32Array.from(g.tensor?.dataSync() ?? new Float32Array(0)))) };
    cnnTrainStep(cnn, reader as unknown as tf.Optimizer, x, labels, 8, subnets, 'sum', { largestWeight });
    assert.equal(tf.memory().numTensors, before, 'a weighted step leaves no tensors behind');
    return out;
  };
  const both = grads([full, small]);
  const bigOnly = grads([full]);
  const smallOnly = grads([small]);
  const weighted = grads([full, small], 3);
  const smallWeighted = grads([small], 3);
  const unweighted = grads([full, small], 1);
  assert.ok(bigOnly.some((g) => g.some((v) => v !== 0)) && smallOnly.some((g) => g.some((v) => v !== 0)), 'both subnets have gradients');
  for (let i = 0; i < both.length; i++) {
    assert.deepEqual(unweighted[i], both[i], 'weight 1 is the plain step');
    const expect = bigOnly[i]!.length ? bigOnly[i]!.map((v, j) => 3 * v + (smallOnly[i]![j] ?? 0)) : smallOnly[i]!;
    assert.ok(maxAbsDiff(weighted[i]!, expect) < 1e-5, `variable ${i}: 3 x the full subnet's gradient + the small one's`);
    assert.deepEqual(smallWeighted[i], smallOnly[i], 'a step without the full subnet is unchanged');
  }
  cnn.dispose();
  const isField = (e: unknown) => e instanceof SortedNetError && e.field === 'largestWeight';
  assert.throws(() => resolveCnnConfig({ largestWeight: 0 }), isField);
  assert.throws(() => resolveConfig({ largestWeight: -2 }), isField);
  assert.throws(() => resolveGptConfig({ largestWeight: Number.NaN }), isField);
  assert.equal(resolveCnnConfig({}).largestWeight, 1);
  assert.equal(resolveGptConfig({ largestWeight: 2.5 }).largestWeight, 2.5);
});
