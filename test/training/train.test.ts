// The SortedNet loop on a tiny fixed-seed run: loss goes down, runs repeat exactly, a step
// leaks no tensors, subnet sampling follows its rule, and the learning-rate schedule.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../training/backend.js';
import { lrAt, resolveConfig } from '../../training/config.js';
import { loadFashionMnist, subsetDir, type Dataset } from '../../training/data/fashion-mnist.js';
import { evaluateSubnets } from '../../training/eval.js';
import { train } from '../../training/loop.js';
import { SortedMlp } from '../../training/models/mlp.js';
import { Rng } from '../../training/rng.js';
import { sampleSubnets } from '../../training/sampling.js';
import { latticeOf, subnetId } from '../../training/spec.js';
import { trainStep } from '../../training/step.js';
import { SortedNetError } from '../../runtime/errors.js';
import type { TrainEvent } from '../../training/progress.js';

let data: Dataset;
before(async () => {
  await initBackend('wasm');
  data = await loadFashionMnist({ dir: subsetDir(), limitTrain: 512, limitTest: 200 });
});

const tiny = { hidden: 32, depths: [1, 2], widths: [0.5, 1], batch: 64, lr: 0.01, warmupSteps: 0, lrMinFraction: 1, evalEachEpoch: false };

void test('a tiny fixed-seed run decreases the loss and repeats exactly', async () => {
  const events: TrainEvent['type'][] = [];
  const a = await train({ ...tiny, epochs: 3, seed: 7, data, onProgress: (e) => events.push(e.type) });
  const b = await train({ ...tiny, epochs: 3, seed: 7, data });
  const first = a.losses.slice(0, 3).reduce((s, v) => s + v, 0) / 3;
  const last = a.losses.slice(-3).reduce((s, v) => s + v, 0) / 3;
  const maxdiff = Math.max(...a.losses.map((l, i) => Math.abs(l - b.losses[i]!)));
  console.log(`  ${a.losses.length} steps: loss ${first.toFixed(4)} -> ${last.toFixed(4)}; rerun maxdiff ${maxdiff}`);
  assert.equal(a.losses.length, 24);
  assert.ok(last < first * 0.75, `loss ${first} -> ${last}`);
  assert.equal(maxdiff, 0, 'same seed, same losses');
  assert.deepEqual([events[0], events.at(-1)], ['start', 'done']);
  assert.ok(events.includes('step') && events.includes('epoch') && events.includes('eval'));
  assert.deepEqual(a.subnets.map((s) => s.id), ['d1-w50', 'd1-w100', 'd2-w50', 'd2-w100']);
  for (const s of a.subnets) assert.ok(s.metrics.accuracy! > 0.3, `${s.id} accuracy ${s.metrics.accuracy}`);
});

void test('an optimizer step leaks no tensors', () => {
  const model = SortedMlp.init({ inputSize: 784, hidden: 32, classes: 10 }, 2, new Rng(0));
  const optimizer = tf.train.adam(0.01);
  const batch = { x: data.train.images.subarray(0, 32 * 784), labels: data.train.labels.subarray(0, 32), n: 32 };
  const subnets = latticeOf({ depth: [1, 2], width: [0.5, 1] });
  trainStep(model, optimizer, batch, subnets); // creates Adam's moment variables
  const before = tf.memory().numTensors;
  trainStep(model, optimizer, batch, subnets);
  trainStep(model, optimizer, batch, subnets.slice(0, 2), 'sum');
  assert.equal(tf.memory().numTensors, before, 'step');
  evaluateSubnets(model, data.test, { depth: [1, 2], width: [0.5, 1] }, { batch: 64 });
  assert.equal(tf.memory().numTensors, before, 'evaluation');
  model.dispose();
  optimizer.dispose();
});

void test('train() leaves no tensors behind', async () => {
  const before = tf.memory().numTensors;
  await train({ ...tiny, epochs: 1, data });
  assert.equal(tf.memory().numTensors, before);
});

void test('sandwich sampling always includes the largest and smallest subnet', () => {
  const lattice = latticeOf({ depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] });
  const rng = new Rng(1);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const ids = sampleSubnets(lattice, 4, 'sandwich', rng).map(subnetId);
    assert.deepEqual(ids.slice(0, 2), ['d3-w100', 'd1-w25']);
    assert.equal(new Set(ids).size, 4, 'distinct');
    ids.slice(2).forEach((id) => seen.add(id));
  }
  assert.equal(seen.size, 10, 'every middle subnet gets sampled');
  const uniform = sampleSubnets(lattice, 3, 'uniform', rng);
  assert.equal(new Set(uniform.map(subnetId)).size, 3);
  assert.equal(sampleSubnets(lattice, 20, 'uniform', rng).length, 12, 'g >= lattice: all of them');
});

void test('learning rate: warm-up, then cosine decay to the floor', () => {
  const c = { lr: 1, lrMinFraction: 0.1, warmupSteps: 10 };
  assert.ok(Math.abs(lrAt(0, 110, c) - 1 / 11) < 1e-12);
  assert.equal(lrAt(10, 110, c), 1);
  assert.ok(Math.abs(lrAt(109, 110, c) - 0.1) < 1e-12);
  assert.ok(lrAt(60, 110, c) < 1 && lrAt(60, 110, c) > 0.1);
});

void test('config: unknown keys and bad values are rejected with a fix', () => {
  assert.throws(() => resolveConfig({ hiden: 4 } as never), (e: unknown) => e instanceof SortedNetError && /did you mean "hidden"/.test(e.message));
  assert.throws(() => resolveConfig({ widths: [0.5, 0.25, 1] }), (e: unknown) => e instanceof SortedNetError && e.field === 'widths');
  assert.throws(() => resolveConfig({ sampling: 'sandwich', groups: 1 }), (e: unknown) => e instanceof SortedNetError && e.field === 'groups');
});
