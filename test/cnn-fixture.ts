/**
 * A briefly trained tiny sorted CNN, calibrated and packed, for the CNN end-to-end tests:
 * random BN scales (so no branch starts at zero), a few Adam steps on random images, then
 * per-subnet batch-norm statistics.
 *
 * @example
 * const fx = trainedCnn({ imageSize: 8, inChannels: 1, classes: 3, channels: 4, stages: 2, blocks: 2, stemStride: 1 }, { depth: [1, 2], width: [0.5, 1] });
 * fx.checkpoint.spec.subnets.length; // 4
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Checkpoint } from '../training/checkpoint.js';
import { evaluateCnn } from '../training/cnn-eval.js';
import { initCnnTensors, SortedCnn, type CnnConfig } from '../training/models/cnn.js';
import { Rng } from '../training/rng.js';
import { latticeOf, type Dim, type SortedSpec } from '../training/spec.js';

export interface CnnFixture {
  model: SortedCnn;
  checkpoint: Checkpoint;
  /** Held-out images, NHWC rows (= NCHW for one channel), and labels. */
  images: Float32Array;
  labels: Uint8Array;
  n: number;
}

export function randomImages(n: number, config: CnnConfig, rng: Rng): Float32Array {
  const x = new Float32Array(n * config.imageSize * config.imageSize * config.inChannels);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  return x;
}

export function trainedCnn(config: CnnConfig, dims: Partial<Record<Dim, number[]>>, opts: { steps?: number; seed?: number } = {}): CnnFixture {
  const rng = new Rng(opts.seed ?? 1);
  const tensors = initCnnTensors(config, rng);
  for (const [name, t] of Object.entries(tensors)) {
    if (!/\.bn1?2?\.(weight|bias)$|\.bn\.(weight|bias)$/.test(name)) continue;
    for (let i = 0; i < t.data.length; i++) t.data[i] = name.endsWith('weight') ? rng.uniform(0.5, 1.5) : rng.uniform(-0.2, 0.2);
  }
  const model = SortedCnn.fromTensors(tensors, config, { trainable: true });
  const lattice = latticeOf(dims);
  const batch = 16;
  const per = config.imageSize * config.imageSize * config.inChannels;
  const optimizer = tf.train.adam(0.01);
  for (let s = 0; s < (opts.steps ?? 3); s++) {
    const x = randomImages(batch, config, rng);
    const y = Int32Array.from({ length: batch }, () => rng.int(config.classes));
    const chosen = [lattice[lattice.length - 1]!, lattice[rng.int(lattice.length)]!];
    tf.tidy(() => {
      const xs = tf.tensor2d(x, [batch, per]);
      const ys = tf.oneHot(tf.tensor1d(y, 'int32'), config.classes);
      optimizer.minimize(() => tf.addN(chosen.map((l) => tf.losses.softmaxCrossEntropy(ys, model.forward(xs, l)))) as tf.Scalar, false, model.variables());
    });
  }
  optimizer.dispose();
  model.calibrate(randomImages(64, config, rng), 64, lattice, { batch: 32 });
  const n = 8;
  const images = randomImages(n, config, rng);
  const labels = Uint8Array.from({ length: n }, () => rng.int(config.classes));
  const subnets = evaluateCnn(model, { images, labels, n, features: per }, dims);
  const spec: SortedSpec = {
    format: 'sortednet-checkpoint', version: 1, arch: 'cnn', config: { ...config }, dims, subnets,
    training: { steps: opts.steps ?? 3, seed: opts.seed ?? 1 }, data: { name: 'random', source: 'test/cnn-fixture.ts', train: 64, test: n },
  };
  return { model, checkpoint: { spec, tensors: model.toTensors() }, images, labels, n };
}
