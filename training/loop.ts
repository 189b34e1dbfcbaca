/**
 * The SortedNet training loop, top to bottom: config, backend, data, model, then one loop
 * where every optimizer step takes one mini-batch, samples g subnets, averages their losses,
 * and takes one Adam step on the shared weights. Then every subnet is evaluated on the test
 * split and the checkpoint (and an accuracy plot) is written.
 *
 * @example
 * const result = await train({ hidden: 64, epochs: 1, data: { limitTrain: 512 }, out: 'tiny.safetensors' });
 * result.subnets.map((s) => `${s.id} ${s.metrics.accuracy}`); // ['d1-w25 0.61', ..., 'd3-w100 0.70']
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { lrAt, resolveConfig, type TrainConfig } from './config.js';
import { loadFashionMnist, type Dataset, type LoadOptions } from './data/fashion-mnist.js';
import { evaluateSubnets } from './eval.js';
import { SortedMlp } from './models/mlp.js';
import { ReplicaGroup } from './parallel.js';
import { writeAccuracyPlot } from './plot.js';
import type { TrainEvent } from './progress.js';
import { Rng } from './rng.js';
import { sampleSubnets } from './sampling.js';
import { latticeOf, subnetId, type SortedSpec, type SubnetSpec } from './spec.js';
import { trainStep } from './step.js';
import { SortedNetError } from '../runtime/errors.js';

export interface TrainOptions extends Partial<TrainConfig> {
  /** A loaded data set, or where to load Fashion-MNIST from. @defaultValue see loadFashionMnist */
  data?: Dataset | LoadOptions;
  /** Write the checkpoint here (atomically), and the plot next to it as `*.accuracy.svg`. @defaultValue not written */
  out?: string;
  /** Called on start, after every step, after each epoch and at the end. */
  onProgress?: (event: TrainEvent) => void;
}

export interface TrainResult {
  /** Spec and weights, as written (forwardSubnet accepts `checkpoint.tensors`). */
  checkpoint: Checkpoint;
  /** Every subnet with its test metrics, smallest first. */
  subnets: SubnetSpec[];
  /** The backend that ran: 'tensorflow', 'wasm' or 'cpu'. */
  backend: string;
  /** Mean loss of the sampled subnets at each step. */
  losses: number[];
  /** Paths written when `out` was given. */
  files?: { checkpoint: string; plot: string };
}

const isDataset = (d: Dataset | LoadOptions | undefined): d is Dataset => d !== undefined && 'train' in d;

export async function train(options: TrainOptions = {}): Promise<TrainResult> {
  const { data: dataOption, out, onProgress, ...partial } = options;
  const config = resolveConfig(partial);
  const emit = onProgress ?? (() => {});

  // Backend and data.
  const backend = await initBackend(config.backend);
  const data = isDataset(dataOption) ? dataOption : await loadFashionMnist(dataOption);
  if (data.train.n === 0) throw new SortedNetError({ code: 'BAD_DATA', file: data.dir, field: 'train', found: '0 examples', fix: 'use a larger --limit-train' });

  // Model, lattice and optimizer.
  const rng = new Rng(config.seed);
  const mlpConfig = { inputSize: data.inputSize, hidden: config.hidden, classes: data.classes };
  const model = SortedMlp.init(mlpConfig, config.depths[config.depths.length - 1]!, rng);
  const dims = { depth: config.depths, width: config.widths };
  const lattice = latticeOf(dims);
  const adam = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
  const optimizer = tf.train.adam(config.lr, adam.beta1, adam.beta2, adam.epsilon);
  const setLr = (lr: number) => ((optimizer as unknown as { learningRate: number }).learningRate = lr);

  // Schedule: whole batches only; a split smaller than a batch is one batch.
  const batchSize = Math.min(config.batch, data.train.n);
  const stepsPerEpoch = Math.floor(data.train.n / batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const { inputSize } = mlpConfig;
  const xBuf = new Float32Array(batchSize * inputSize);
  const yBuf = new Uint8Array(batchSize);
  const order = Uint32Array.from({ length: data.train.n }, (_, i) => i);
  const losses: number[] = [];
  const started = performance.now();
  const recent: number[] = []; // step end times for the steps/s window
  emit({ type: 'start', backend, totalSteps, stepsPerEpoch, epochs: config.epochs, subnets: lattice.length, train: data.train.n, test: data.test.n });

  // Worker replicas start from these weights and split each batch (see parallel.ts).
  let group: ReplicaGroup | undefined;
  try {
    if (config.workers > 1) {
      if (backend !== 'wasm') throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'workers', found: `${config.workers} on the ${backend} backend`, fix: 'use --workers 1 (native TensorFlow is already multi-threaded)' });
      group = await ReplicaGroup.start(model, optimizer, adam, lattice, { replicas: config.workers, maxBatch: batchSize, reduce: config.reduce });
    }
    let step = 0;
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      rng.shuffle(order);
      let epochLoss = 0;
      for (let s = 0; s < stepsPerEpoch; s++, step++) {
        for (let i = 0; i < batchSize; i++) {
          const idx = order[s * batchSize + i]!;
          xBuf.set(data.train.images.subarray(idx * inputSize, (idx + 1) * inputSize), i * inputSize);
          yBuf[i] = data.train.labels[idx]!;
        }
        const lr = lrAt(step, totalSteps, config);
        const subnets = sampleSubnets(lattice, config.groups, config.sampling, rng);
        const batch = { x: xBuf, labels: yBuf, n: batchSize };
        setLr(lr);
        const loss = group
          ? group.step(batch, subnets.map((l) => lattice.indexOf(l)), lr)
          : trainStep(model, optimizer, batch, subnets, config.reduce);
        if (!Number.isFinite(loss)) {
          throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'lr', found: `loss ${loss} at step ${step}`, fix: `lower the learning rate (now ${config.lr})` });
        }
        losses.push(loss);
        epochLoss += loss;
        const now = performance.now();
        recent.push(now);
        if (recent.length > 50) recent.shift();
        const stepsPerSec = recent.length > 1 ? ((recent.length - 1) * 1000) / (now - recent[0]!) : 1000 / (now - started);
        emit({ type: 'step', step: step + 1, totalSteps, epoch: epoch + 1, loss, lr, stepsPerSec, etaSec: (totalSteps - step - 1) / stepsPerSec, subnets: subnets.map(subnetId) });
      }
      const ends = { depth: [...new Set([config.depths[0]!, model.depth])], width: [...new Set([config.widths[0]!, 1])] };
      const checks = config.evalEachEpoch && data.test.n > 0 ? evaluateSubnets(model, data.test, ends) : [];
      emit({
        type: 'epoch', epoch: epoch + 1, epochs: config.epochs, trainLoss: epochLoss / stepsPerEpoch,
        checks: checks.filter((c) => c.id === subnetId(lattice[0]!) || c.id === subnetId(lattice[lattice.length - 1]!)),
      });
    }
    const trainSeconds = (performance.now() - started) / 1000;
    await group?.stop();
    group = undefined;

    // Evaluate every subnet and build the checkpoint.
    const subnets = evaluateSubnets(model, data.test, dims);
    emit({ type: 'eval', subnets });
    const spec: SortedSpec = {
      format: 'sortednet-checkpoint',
      version: 1,
      arch: 'mlp',
      config: mlpConfig,
      dims,
      subnets,
      training: {
        ...config,
        backendUsed: backend,
        optimizer: { name: 'adam', ...adam },
        lrSchedule: 'linear warm-up then cosine decay',
        steps: totalSteps,
        stepsPerEpoch,
        batchUsed: batchSize,
        finalLoss: losses.length ? losses[losses.length - 1] : null,
        seconds: Math.round(trainSeconds * 10) / 10,
      },
      data: { name: data.name, source: `${data.source}:${data.dir}`, train: data.train.n, test: data.test.n },
    };
    const checkpoint: Checkpoint = { spec, tensors: model.toTensors() };
    let files: TrainResult['files'];
    if (out) {
      await mkdir(dirname(out), { recursive: true });
      await writeCheckpoint(out, checkpoint);
      files = { checkpoint: out, plot: await writeAccuracyPlot(out, subnets) };
    }
    emit({ type: 'done', seconds: trainSeconds, files });
    return { checkpoint, subnets, backend, losses, files };
  } finally {
    await group?.stop();
    model.dispose();
    optimizer.dispose();
  }
}
