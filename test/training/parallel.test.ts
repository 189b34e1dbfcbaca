// Data-parallel replicas: the worker's weights stay bit-identical to the calling thread's,
// the step matches a single-thread step, and train({ workers: 2 }) runs end to end.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../training/backend.js';
import { loadFashionMnist, subsetDir, type Dataset } from '../../training/data/fashion-mnist.js';
import { train } from '../../training/loop.js';
import { SortedMlp } from '../../training/models/mlp.js';
import { ReplicaGroup, shareOf } from '../../training/parallel.js';
import { Rng } from '../../training/rng.js';
import { AdamW } from '../../training/scheme/adamw.js';
import { latticeOf } from '../../training/spec.js';
import { trainStep } from '../../training/step.js';
import { maxAbsDiff } from './helpers.js';

let data: Dataset;
before(async () => {
  await initBackend('wasm');
  data = await loadFashionMnist({ dir: subsetDir(), limitTrain: 256, limitTest: 100 });
});

void test('batch shares cover every row once', () => {
  assert.deepEqual([0, 1, 2].map((r) => shareOf(7, r, 3)), [[0, 2], [2, 4], [4, 7]]);
});

void test('2 replicas: same loss as one thread, worker weights bit-identical', async () => {
  const adam = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
  const lattice = latticeOf({ depth: [1, 2], width: [0.5, 1] });
  const model = SortedMlp.init({ inputSize: 784, hidden: 32, classes: 10 }, 2, new Rng(0));
  const single = SortedMlp.fromTensors(model.toTensors(), { trainable: true });
  const opt = new AdamW({ lr: 0.01, ...adam });
  const opt1 = new AdamW({ lr: 0.01, ...adam });
  const group = await ReplicaGroup.start(model, opt, adam, lattice, { replicas: 2, maxBatch: 64, reduce: 'mean' });
  let maxdiff = 0;
  try {
    for (let s = 0; s < 4; s++) {
      const batch = { x: data.train.images.subarray(s * 64 * 784, (s + 1) * 64 * 784), labels: data.train.labels.subarray(s * 64, (s + 1) * 64), n: 64 };
      const idx = [3, 0, s % 2 + 1];
      const a = group.step(batch, idx, 0.01);
      const b = trainStep(single, opt1, batch, idx.map((i) => lattice[i]!));
      maxdiff = Math.max(maxdiff, Math.abs(a - b));
    }
  } finally {
    const [worker] = await group.stop();
    const mine = model.toTensors();
    for (const name of Object.keys(mine)) assert.equal(maxAbsDiff(mine[name]!.data, worker![name]!.data), 0, name);
    const vsSingle = Math.max(...Object.keys(mine).map((n) => maxAbsDiff(mine[n]!.data, single.toTensors()[n]!.data)));
    console.log(`  loss maxdiff vs one thread ${maxdiff.toExponential(2)}, weights ${vsSingle.toExponential(2)}`);
    assert.ok(vsSingle < 1e-4);
    [model, single].forEach((m) => m.dispose());
    [opt, opt1].forEach((o) => o.dispose());
  }
  assert.ok(maxdiff < 1e-4, `loss maxdiff ${maxdiff}`);
});

void test('train({ workers: 2 }) trains and reports every subnet, with distillation and weight decay', async () => {
  const r = await train({ hidden: 32, depths: [1, 2], widths: [0.5, 1], epochs: 2, batch: 64, lr: 0.01, warmupSteps: 0, workers: 2, evalEachEpoch: false, distill: 0.5, weightDecay: 0.01, data });
  assert.equal(r.losses.length, 8);
  assert.ok(r.losses.at(-1)! < r.losses[0]!);
  assert.equal(r.checkpoint.spec.training.workers, 2);
});
