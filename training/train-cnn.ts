/**
 * The sorted CNN training loop, top to bottom: config, backend, data, model, then one loop
 * where every optimizer step takes one mini-batch, plans the step's subnets (uniform,
 * sandwich or all-exits: every depth of a width from one pass, stage 0 shared), accumulates
 * their losses (optionally distilled from the full subnet) and takes one AdamW step on the
 * shared weights, saving a resume file every `checkpointEvery` steps. Batch norm runs on
 * batch statistics while training; after the last epoch every subnet's statistics are
 * calibrated on training images, then every subnet is evaluated on the test split and the
 * checkpoint is written. Emits the same progress events as the MLP loop.
 *
 * @example
 * const result = await trainCnn({ channels: 8, blocks: 2, depths: [1, 2], widths: [0.5, 1], epochs: 1, data: { limitTrain: 512 } });
 * result.subnets.map((s) => `${s.id} ${s.metrics.accuracy}`); // ['d1-w50 0.52', ..., 'd2-w100 0.61']
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { cnnMacs } from '../runtime/graphs/cnn.js';
import { rejectUnknownKeys, SortedNetError } from '../runtime/errors.js';
import { initBackend, type BackendChoice } from './backend.js';
import { writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { evaluateCnn } from './cnn-eval.js';
import { lrAt, type Reduce, type Sampling } from './config.js';
import { augmentBatch } from './data/augment.js';
import { trainingData, type Dataset, type LoadOptions } from './data/fashion-mnist.js';
import { checkCnnConfig, SortedCnn, type CnnConfig } from './models/cnn.js';
import { softmaxCrossEntropy } from './models/loss.js';
import type { TrainEvent } from './progress.js';
import { Rng } from './rng.js';
import { AdamW } from './scheme/adamw.js';
import { loadStep } from './scheme/batches.js';
import { checkScheme, DEFAULT_SCHEME, samplingAt, type SchemeConfig } from './scheme/config.js';
import { applyTo, sortedStep } from './scheme/objective.js';
import { sha256Of } from './scheme/resume.js';
import { costWeight, passesOf, planStep } from './scheme/sampling.js';
import { checkLoss, ResumeSession, StepTimer, type TrainingParts } from './scheme/session.js';
import { latticeOf, subnetId, type Levels, type SortedSpec, type SubnetSpec } from './spec.js';
import { batchTensors, smoothTargets, type StepOptions } from './step.js';

export interface CnnTrainConfig extends SchemeConfig {
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
  /** Subnets per step (width groups under all-exits), all on the same mini-batch. @defaultValue 3 */
  groups: number;
  /**
   * `sandwich`: the largest and the smallest subnet every step, the rest at random; `uniform`:
   * g at random; `all-exits`: g widths, every depth of each. @defaultValue 'sandwich'
   */
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
  /** In-place distillation weight from the full subnet (see SchemeConfig). @defaultValue 0.5 (measured to help the CNN; 0 turns it off) */
  distill: number;
  /** Random left-right flips and shifts of up to 2 pixels of the training images (data/augment.ts). @defaultValue false */
  augment: boolean;
  /**
   * Label smoothing ε in [0, 1): every subnet's hard loss is the cross-entropy against
   * `(1 - ε) · one-hot + ε / classes`; the reported loss is then against those targets. 0 is off. @defaultValue 0
   */
  labelSmoothing: number;
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
  ...DEFAULT_SCHEME,
  // Measured on Fashion-MNIST (docs/training.md): +1.5-2.6 points on the narrow subnets, the widest unchanged.
  distill: 0.5,
  augment: false,
  labelSmoothing: 0,
});

const KEYS = Object.keys(DEFAULT_CNN_TRAIN) as (keyof CnnTrainConfig)[];

/** Defaults filled in and every field checked; throws BAD_OPTION naming the field and the fix. */
export function resolveCnnConfig(partial: Partial<CnnTrainConfig>, file = '<api>'): CnnTrainConfig {
  rejectUnknownKeys(partial, KEYS, 'BAD_OPTION', file, 'config');
  const c = { ...DEFAULT_CNN_TRAIN, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) } as CnnTrainConfig;
  const fail = (field: keyof CnnTrainConfig, fix: string): never => {
    throw new SortedNetError({ code: 'BAD_OPTION', file, field, found: JSON.stringify(c[field]), fix });
  };
  for (const k of ['channels', 'stages', 'blocks', 'stemStride', 'epochs', 'batch', 'groups', 'calibrationImages'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) fail(k, 'use a whole number >= 1');
  }
  if (!Number.isInteger(c.warmupSteps) || c.warmupSteps < 0) fail('warmupSteps', 'use a whole number >= 0');
  if (!Number.isInteger(c.seed)) fail('seed', 'use a whole number');
  if (typeof c.augment !== 'boolean') fail('augment', 'use true or false');
  if (!(typeof c.labelSmoothing === 'number' && c.labelSmoothing >= 0 && c.labelSmoothing < 1)) fail('labelSmoothing', 'use a fraction in [0, 1), e.g. 0.1 (0 turns it off)');
  if (!(c.lr > 0)) fail('lr', 'use a positive learning rate such as 0.003');
  if (!(c.lrMinFraction >= 0 && c.lrMinFraction <= 1)) fail('lrMinFraction', 'use a fraction in [0, 1]');
  const ascending = (xs: unknown) => Array.isArray(xs) && xs.length > 0 && xs.every((x, i) => typeof x === 'number' && (i === 0 || x > xs[i - 1]));
  if (!ascending(c.depths) || !c.depths.every(Number.isInteger) || c.depths[0]! < 1 || c.depths.at(-1) !== c.blocks) fail('depths', `use ascending block counts ending in blocks (${c.blocks}), e.g. 1,${c.blocks}`);
  if (!ascending(c.widths) || c.widths[0]! <= 0 || c.widths.at(-1) !== 1) fail('widths', 'use ascending fractions in (0, 1] ending in 1, e.g. 0.25,0.5,1');
  checkScheme(c, fail);
  if (c.reduce !== 'mean' && c.reduce !== 'sum') fail('reduce', 'use mean or sum');
  return c;
}

export interface CnnTrainOptions extends Partial<CnnTrainConfig> {
  /** A loaded data set, or where to load Fashion-MNIST from. @defaultValue see loadFashionMnist */
  data?: Dataset | LoadOptions;
  /** Write the checkpoint here (atomically). @defaultValue not written */
  out?: string;
  /** Continue from `<out>.resume.safetensors` (see `checkpointEvery` and TrainOptions.resume). @defaultValue false */
  resume?: boolean;
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


/** One optimizer step on the subnets (optionally distilled); returns their mean cross-entropy before the update. */
export function cnnTrainStep(model: SortedCnn, optimizer: tf.Optimizer, x: Float32Array, labels: Uint8Array, n: number, subnets: readonly Levels[], reduce: Reduce, opts: StepOptions = {}): number {
  return tf.tidy(() => {
    const { x: xs, y } = batchTensors({ x, labels, n }, x.length / n, model.config.classes);
    const ys = smoothTargets(y, opts.labelSmoothing ?? 0);
    const passes = passesOf(subnets.map((l) => ({ depth: l.depth ?? model.depth, width: l.width ?? 1 })));
    const count = passes.reduce((k, p) => k + p.depths.length, 0);
    const hard = sortedStep({
      variables: model.variables(),
      forward: (levels, depths) => model.forwardDepths(xs, levels.width ?? 1, depths),
      hardLoss: (logits) => softmaxCrossEntropy(logits, ys),
      passes,
      scale: reduce === 'mean' ? 1 / count : 1,
      full: { depth: model.depth, width: 1 },
      distill: opts.distill,
      largestWeight: opts.largestWeight,
    }, applyTo(optimizer));
    return hard.reduce((a, b) => a + b, 0) / hard.length;
  });
}

export async function trainCnn(options: CnnTrainOptions = {}): Promise<CnnTrainResult> {
  const { data: dataOption, out, onProgress, resume, ...partial } = options;
  const session = await ResumeSession.open('cnn', { out, resume });
  const config = resolveCnnConfig(session.config(partial), session.resumed ? session.path : '<api>');
  session.start(config.checkpointEvery);
  if (out) await mkdir(dirname(out), { recursive: true });
  const emit = onProgress ?? (() => {});

  // Backend and data.
  const backend = await initBackend(config.backend);
  const data = await trainingData(dataOption);
  const side = Math.round(Math.sqrt(data.inputSize));
  if (side * side !== data.inputSize) throw new SortedNetError({ code: 'BAD_DATA', file: data.dir, field: 'inputSize', found: String(data.inputSize), fix: 'the CNN takes square one-channel images' });

  // Model, lattice and optimizer (from the resume file when resuming).
  const rng = new Rng(config.seed);
  const cnnConfig: CnnConfig = checkCnnConfig({ imageSize: side, inChannels: 1, classes: data.classes, channels: config.channels, stages: config.stages, blocks: config.blocks, stemStride: config.stemStride });
  const model = session.resumed
    ? SortedCnn.fromTensors(session.resumed.weights, cnnConfig, { trainable: true, file: session.path })
    : SortedCnn.init(cnnConfig, rng);
  const dims = { depth: config.depths, width: config.widths };
  const lattice = latticeOf(dims);
  const weight = costWeight((l) => cnnMacs(cnnConfig, dims, l), config.costPower);
  const adam = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: config.weightDecay };
  const optimizer = new AdamW({ lr: config.lr, ...adam });
  const stepOptions: StepOptions = { distill: config.distill > 0 ? { alpha: config.distill, temperature: config.distillTemperature } : undefined, labelSmoothing: config.labelSmoothing, largestWeight: config.largestWeight };
  const calibrationN = Math.min(config.calibrationImages, data.train.n);

  const batchSize = Math.min(config.batch, data.train.n);
  const stepsPerEpoch = Math.floor(data.train.n / batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const xBuf = new Float32Array(batchSize * data.inputSize);
  const yBuf = new Uint8Array(batchSize);
  const order = Uint32Array.from({ length: data.train.n }, (_, i) => i);
  const parts: TrainingParts = {
    optimizer, variables: model.variables(), names: model.names(), rng, order,
    data: { train: data.train.n, sha256: session.resumed || config.checkpointEvery ? sha256Of(data.train.images, data.train.labels) : '' },
  };
  const spec = (subnets: SubnetSpec[], training: Record<string, unknown>): SortedSpec => ({
    format: 'sortednet-checkpoint', version: 1, arch: 'cnn', config: { ...cnnConfig }, dims, subnets, training,
    data: { name: data.name, source: `${data.source}:${data.dir}`, train: data.train.n, test: data.test.n },
  });

  try {
    const from = session.restore(parts, 'resume with the same --data and --limit-train');
    const losses = from.losses;
    let epochLoss = from.loop.epochLoss ?? 0;
    let checkSeconds = 0;
    const timer = new StepTimer();
    emit({ type: 'start', backend, totalSteps, stepsPerEpoch, epochs: config.epochs, subnets: lattice.length, train: data.train.n, test: data.test.n, ...(from.step ? { resumedAt: from.step } : {}) });
    for (let step = from.step; step < totalSteps; step++) {
      const { epoch, first } = loadStep(step, stepsPerEpoch, rng, data.train, order, batchSize, xBuf, yBuf);
      if (config.augment) augmentBatch(xBuf, batchSize, { size: cnnConfig.imageSize, channels: cnnConfig.inChannels, shift: 2 }, config.seed, step);
      if (first) epochLoss = 0;
      const lr = lrAt(step, totalSteps, config);
      optimizer.learningRate = lr;
      const phase = samplingAt(config, step, totalSteps);
      const { subnets } = planStep(dims, phase.groups, phase.sampling, rng, weight);
      const loss = cnnTrainStep(model, optimizer, xBuf, yBuf, batchSize, subnets, config.reduce, stepOptions);
      checkLoss(loss, step, config.lr);
      losses.push(loss);
      epochLoss += loss;
      const stepsPerSec = timer.tick();
      emit({ type: 'step', step: step + 1, totalSteps, epoch: epoch + 1, loss, lr, stepsPerSec, etaSec: (totalSteps - step - 1) / stepsPerSec, subnets: subnets.map(subnetId) });
      if ((step + 1) % stepsPerEpoch === 0) {
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
      if (session.due(step + 1)) {
        await session.save(parts, model.toTensors(), { step: step + 1, totalSteps, config, losses, loop: { epochLoss } }, spec([], { ...config }));
      }
    }
    const trainSeconds = timer.seconds() - checkSeconds;

    // Batch-norm statistics of every subnet, then every subnet on the test split.
    let t0 = performance.now();
    model.calibrate(data.train.images, calibrationN, lattice);
    const calibrateSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const subnets = evaluateCnn(model, data.test, dims);
    const evalSeconds = (performance.now() - t0) / 1000;
    emit({ type: 'eval', subnets });
    const checkpoint: Checkpoint = {
      spec: spec(subnets, {
        ...config,
        backendUsed: backend,
        optimizer: { name: config.weightDecay > 0 ? 'adamw' : 'adam', ...adam },
        lrSchedule: 'linear warm-up then cosine decay',
        batchNorm: `batch statistics in training; per-subnet statistics calibrated on the first ${calibrationN} training images`,
        steps: totalSteps,
        stepsPerEpoch,
        batchUsed: batchSize,
        finalLoss: losses.at(-1) ?? null,
        seconds: Math.round(trainSeconds * 10) / 10,
        calibrateSeconds: Math.round(calibrateSeconds * 10) / 10,
        evalSeconds: Math.round(evalSeconds * 10) / 10,
        ...(from.step ? { resumedAt: from.step } : {}),
      }),
      tensors: model.toTensors(),
    };
    if (out) {
      await writeCheckpoint(out, checkpoint);
      await session.finish();
    }
    emit({ type: 'done', seconds: trainSeconds });
    return { checkpoint, subnets, backend, losses, seconds: { train: trainSeconds, calibrate: calibrateSeconds, eval: evalSeconds } };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}
