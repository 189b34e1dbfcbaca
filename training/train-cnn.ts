/**
 * The sorted CNN training loop, top to bottom: config, backend, data, model, then one loop
 * where every optimizer step takes one mini-batch, samples g subnets, averages their losses
 * and takes one Adam step on the shared weights. Batch norm runs on batch statistics while
 * training; after the last epoch every subnet's statistics are calibrated on training images,
 * then every subnet is evaluated on the test split and the checkpoint is written. Emits the
 * same progress events as the MLP loop.
 *
 * @example
 * const result = await trainCnn({ channels: 8, blocks: 2, depths: [1, 2], widths: [0.5, 1], epochs: 1, data: { limitTrain: 512 } });
 * result.subnets.map((s) => `${s.id} ${s.metrics.accuracy}`); // ['d1-w50 0.52', ..., 'd2-w100 0.61']
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { rejectUnknownKeys, SortedNetError } from '../runtime/errors.js';
import { initBackend, type BackendChoice } from './backend.js';
import { writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { evaluateCnn } from './cnn-eval.js';
import { lrAt, type Reduce, type Sampling } from './config.js';
import { loadFashionMnist, type Dataset, type LoadOptions } from './data/fashion-mnist.js';
import { checkCnnConfig, SortedCnn, type CnnConfig } from './models/cnn.js';
import { scaledSum, softmaxCrossEntropy } from './models/loss.js';
import type { TrainEvent } from './progress.js';
import { Rng } from './rng.js';
import { sampleSubnets } from './sampling.js';
import { latticeOf, subnetId, type Levels, type SortedSpec, type SubnetSpec } from './spec.js';

export interface CnnTrainConfig {
  /** Channels of the stem and stage 0; stage s has channels * 2^s. @defaultValue 16 */
  channels: number;
  /** Stages, each halving the resolution. @defaultValue 2 */
  stages: number;
  /** Residual blocks per stage in the full network. @defaultValue 4 */
  blocks: number;
  /** 2: the stem halves the resolution (cheaper); 1: stage 0 does. @defaultValue 2 */
  stemStride: number;
  /** Depth levels (blocks per stage), ascending, ending in `blocks`. @defaultValue [1, 2, 3, 4] */
  depths: number[];
  /** Width levels (fractions of every conv's channels), ascending, ending in 1. @defaultValue [0.25, 0.5, 0.75, 1] */
  widths: number[];
  /** Passes over the training split. @defaultValue 3 */
  epochs: number;
  /** Examples per optimizer step. @defaultValue 128 */
  batch: number;
  /** Peak Adam learning rate. @defaultValue 0.003 */
  lr: number;
  /** Final learning rate as a fraction of `lr` (cosine). @defaultValue 0.02 */
  lrMinFraction: number;
  /** Linear warm-up steps. @defaultValue 100 */
  warmupSteps: number;
  /** Subnets per step, all on the same mini-batch. @defaultValue 3 */
  groups: number;
  /** `sandwich`: the largest and the smallest subnet every step, the rest at random. @defaultValue 'sandwich' */
  sampling: Sampling;
  /** How the g losses combine. @defaultValue 'mean' */
  reduce: Reduce;
  /** Training images used to calibrate every subnet's batch-norm statistics. @defaultValue 2000 */
  calibrationImages: number;
  /** Calibrate and evaluate the smallest and largest subnets after each epoch. @defaultValue true */
  evalEachEpoch: boolean;
  /** @defaultValue 0 */
  seed: number;
  /** @defaultValue 'auto' */
  backend: BackendChoice;
}

export const DEFAULT_CNN_TRAIN: Readonly<CnnTrainConfig> = Object.freeze({
  channels: 16,
  stages: 2,
  blocks: 4,
  stemStride: 2,
  depths: [1, 2, 3, 4],
  widths: [0.25, 0.5, 0.75, 1],
  epochs: 3,
  batch: 128,
  lr: 0.003,
  lrMinFraction: 0.02,
  warmupSteps: 100,
  groups: 3,
  sampling: 'sandwich',
  reduce: 'mean',
  calibrationImages: 2000,
  evalEachEpoch: true,
  seed: 0,
  backend: 'auto',
});

const KEYS = Object.keys(DEFAULT_CNN_TRAIN) as (keyof CnnTrainConfig)[];

/** Defaults filled in and every field checked; throws BAD_OPTION naming the field and the fix. */
export function resolveCnnConfig(partial: Partial<CnnTrainConfig>, file = '<api>'): CnnTrainConfig {
  rejectUnknownKeys(partial, KEYS, { file, field: 'config', code: 'BAD_OPTION' });
  const c = { ...DEFAULT_CNN_TRAIN, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) } as CnnTrainConfig;
  const fail = (field: keyof CnnTrainConfig, fix: string): never => {
    throw new SortedNetError({ code: 'BAD_OPTION', file, field, found: JSON.stringify(c[field]), fix });
  };
  for (const k of ['channels', 'stages', 'blocks', 'stemStride', 'epochs', 'batch', 'groups', 'calibrationImages'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) fail(k, 'use a whole number >= 1');
  }
  if (!Number.isInteger(c.warmupSteps) || c.warmupSteps < 0) fail('warmupSteps', 'use a whole number >= 0');
  if (!Number.isInteger(c.seed)) fail('seed', 'use a whole number');
  if (!(c.lr > 0)) fail('lr', 'use a positive learning rate such as 0.003');
  if (!(c.lrMinFraction >= 0 && c.lrMinFraction <= 1)) fail('lrMinFraction', 'use a fraction in [0, 1]');
  const ascending = (xs: unknown) => Array.isArray(xs) && xs.length > 0 && xs.every((x, i) => typeof x === 'number' && (i === 0 || x > xs[i - 1]));
  if (!ascending(c.depths) || !c.depths.every(Number.isInteger) || c.depths[0]! < 1 || c.depths.at(-1) !== c.blocks) fail('depths', `use ascending block counts ending in blocks (${c.blocks}), e.g. 1,${c.blocks}`);
  if (!ascending(c.widths) || c.widths[0]! <= 0 || c.widths.at(-1) !== 1) fail('widths', 'use ascending fractions in (0, 1] ending in 1, e.g. 0.25,0.5,1');
  if (c.sampling !== 'uniform' && c.sampling !== 'sandwich') fail('sampling', 'use uniform or sandwich');
  if (c.sampling === 'sandwich' && c.groups < 2) fail('groups', 'sandwich sampling needs 2 or more subnets per step, or use uniform');
  if (c.reduce !== 'mean' && c.reduce !== 'sum') fail('reduce', 'use mean or sum');
  return c;
}

export interface CnnTrainOptions extends Partial<CnnTrainConfig> {
  /** A loaded data set, or where to load Fashion-MNIST from. @defaultValue see loadFashionMnist */
  data?: Dataset | LoadOptions;
  /** Write the checkpoint here (atomically). @defaultValue not written */
  out?: string;
  onProgress?: (event: TrainEvent) => void;
}

export interface CnnTrainResult {
  checkpoint: Checkpoint;
  subnets: SubnetSpec[];
  backend: string;
  losses: number[];
  /** Seconds spent training, calibrating and evaluating. */
  seconds: { train: number; calibrate: number; eval: number };
}

const isDataset = (d: Dataset | LoadOptions | undefined): d is Dataset => d !== undefined && 'train' in d;

/** One optimizer step on the g subnets; returns their mean loss before the update. */
export function cnnTrainStep(model: SortedCnn, optimizer: tf.Optimizer, x: Float32Array, labels: Uint8Array, n: number, subnets: readonly Levels[], reduce: Reduce): number {
  return tf.tidy(() => {
    const per = x.length / n;
    const xs = tf.tensor2d(x, [n, per]);
    const ys = tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), model.config.classes), 'float32') as tf.Tensor2D;
    const scale = reduce === 'mean' ? 1 / subnets.length : 1;
    const cost = optimizer.minimize(() => scaledSum(subnets.map((l) => softmaxCrossEntropy(model.forward(xs, l), ys)), scale), true, model.variables())!;
    return cost.dataSync()[0]! / (scale * subnets.length);
  });
}

export async function trainCnn(options: CnnTrainOptions = {}): Promise<CnnTrainResult> {
  const { data: dataOption, out, onProgress, ...partial } = options;
  const config = resolveCnnConfig(partial);
  const emit = onProgress ?? (() => {});

  // Backend and data.
  const backend = await initBackend(config.backend);
  const data = isDataset(dataOption) ? dataOption : await loadFashionMnist(dataOption);
  if (data.train.n === 0) throw new SortedNetError({ code: 'BAD_DATA', file: data.dir, field: 'train', found: '0 examples', fix: 'use a larger --limit-train' });
  const side = Math.round(Math.sqrt(data.inputSize));
  if (side * side !== data.inputSize) throw new SortedNetError({ code: 'BAD_DATA', file: data.dir, field: 'inputSize', found: String(data.inputSize), fix: 'the CNN takes square one-channel images' });

  // Model, lattice and optimizer.
  const rng = new Rng(config.seed);
  const cnnConfig: CnnConfig = checkCnnConfig({ imageSize: side, inChannels: 1, classes: data.classes, channels: config.channels, stages: config.stages, blocks: config.blocks, stemStride: config.stemStride });
  const model = SortedCnn.init(cnnConfig, rng);
  const dims = { depth: config.depths, width: config.widths };
  const lattice = latticeOf(dims);
  const optimizer = tf.train.adam(config.lr, 0.9, 0.999, 1e-8);
  const setLr = (lr: number) => ((optimizer as unknown as { learningRate: number }).learningRate = lr);
  const calibrationN = Math.min(config.calibrationImages, data.train.n);

  const batchSize = Math.min(config.batch, data.train.n);
  const stepsPerEpoch = Math.floor(data.train.n / batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const per = data.inputSize;
  const xBuf = new Float32Array(batchSize * per);
  const yBuf = new Uint8Array(batchSize);
  const order = Uint32Array.from({ length: data.train.n }, (_, i) => i);
  const losses: number[] = [];
  const started = performance.now();
  const recent: number[] = [];
  emit({ type: 'start', backend, totalSteps, stepsPerEpoch, epochs: config.epochs, subnets: lattice.length, train: data.train.n, test: data.test.n });

  try {
    let step = 0;
    let checkSeconds = 0;
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      rng.shuffle(order);
      let epochLoss = 0;
      for (let s = 0; s < stepsPerEpoch; s++, step++) {
        for (let i = 0; i < batchSize; i++) {
          const idx = order[s * batchSize + i]!;
          xBuf.set(data.train.images.subarray(idx * per, (idx + 1) * per), i * per);
          yBuf[i] = data.train.labels[idx]!;
        }
        const lr = lrAt(step, totalSteps, config);
        setLr(lr);
        const subnets = sampleSubnets(lattice, config.groups, config.sampling, rng);
        const loss = cnnTrainStep(model, optimizer, xBuf, yBuf, batchSize, subnets, config.reduce);
        if (!Number.isFinite(loss)) throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'lr', found: `loss ${loss} at step ${step}`, fix: `lower the learning rate (now ${config.lr})` });
        losses.push(loss);
        epochLoss += loss;
        const now = performance.now();
        recent.push(now);
        if (recent.length > 50) recent.shift();
        const stepsPerSec = recent.length > 1 ? ((recent.length - 1) * 1000) / (now - recent[0]!) : 1000 / (now - started);
        emit({ type: 'step', step: step + 1, totalSteps, epoch: epoch + 1, loss, lr, stepsPerSec, etaSec: (totalSteps - step - 1) / stepsPerSec, subnets: subnets.map(subnetId) });
      }
      let checks: SubnetSpec[] = [];
      if (config.evalEachEpoch && data.test.n > 0) {
        const t0 = performance.now();
        const ends = { depth: [config.depths[0]!, config.blocks], width: [config.widths[0]!, 1] };
        model.calibrate(data.train.images, Math.min(calibrationN, 1000), latticeOf(ends));
        checks = evaluateCnn(model, data.test, ends).filter((c) => c.id === subnetId(lattice[0]!) || c.id === subnetId(lattice.at(-1)!));
        checkSeconds += (performance.now() - t0) / 1000;
      }
      emit({ type: 'epoch', epoch: epoch + 1, epochs: config.epochs, trainLoss: epochLoss / stepsPerEpoch, checks });
    }
    const trainSeconds = (performance.now() - started) / 1000 - checkSeconds;

    // Batch-norm statistics of every subnet, then every subnet on the test split.
    let t0 = performance.now();
    model.calibrate(data.train.images, calibrationN, lattice);
    const calibrateSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const subnets = evaluateCnn(model, data.test, dims);
    const evalSeconds = (performance.now() - t0) / 1000;
    emit({ type: 'eval', subnets });
    const spec: SortedSpec = {
      format: 'sortednet-checkpoint',
      version: 1,
      arch: 'cnn',
      config: { ...cnnConfig },
      dims,
      subnets,
      training: {
        ...config,
        backendUsed: backend,
        optimizer: { name: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
        lrSchedule: 'linear warm-up then cosine decay',
        batchNorm: `batch statistics in training; per-subnet statistics calibrated on the first ${calibrationN} training images`,
        steps: totalSteps,
        stepsPerEpoch,
        batchUsed: batchSize,
        finalLoss: losses.at(-1) ?? null,
        seconds: Math.round(trainSeconds * 10) / 10,
        calibrateSeconds: Math.round(calibrateSeconds * 10) / 10,
        evalSeconds: Math.round(evalSeconds * 10) / 10,
      },
      data: { name: data.name, source: `${data.source}:${data.dir}`, train: data.train.n, test: data.test.n },
    };
    const checkpoint: Checkpoint = { spec, tensors: model.toTensors() };
    if (out) {
      await mkdir(dirname(out), { recursive: true });
      await writeCheckpoint(out, checkpoint);
    }
    emit({ type: 'done', seconds: trainSeconds });
    return { checkpoint, subnets, backend, losses, seconds: { train: trainSeconds, calibrate: calibrateSeconds, eval: evalSeconds } };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}
