/**
 * The SortedNet training loop, top to bottom: config, backend, data, model, then one loop
 * where every optimizer step takes one mini-batch, plans the step's subnets (uniform,
 * sandwich or all-exits sampling), accumulates their losses (optionally distilled from the
 * full subnet) and takes one AdamW step on the shared weights; every `checkpointEvery` steps
 * it saves a resume file. Then every subnet is evaluated on the test split and the checkpoint
 * (and an accuracy plot) is written.
 *
 * @example
 * const result = await train({ hidden: 64, epochs: 1, data: { limitTrain: 512 }, out: 'tiny.safetensors' });
 * result.subnets.map((s) => `${s.id} ${s.metrics.accuracy}`); // ['d1-w25 0.61', ..., 'd3-w100 0.70']
 * await train({ hidden: 64, epochs: 1, out: 'tiny.safetensors', resume: true }); // after a crash, with checkpointEvery set
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { initBackend } from './backend.js';
import { writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { lrAt, resolveConfig, type TrainConfig } from './config.js';
import { trainingData, type Dataset, type LoadOptions } from './data/fashion-mnist.js';
import { evaluateSubnets } from './eval.js';
import { mlpMacs, SortedMlp } from './models/mlp.js';
import { ReplicaGroup } from './parallel.js';
import { writeAccuracyPlot } from './plot.js';
import type { TrainEvent } from './progress.js';
import { Rng } from './rng.js';
import { AdamW } from './scheme/adamw.js';
import { loadStep } from './scheme/batches.js';
import { sha256Of } from './scheme/resume.js';
import { samplingAt } from './scheme/config.js';
import { costWeight, planStep } from './scheme/sampling.js';
import { checkLoss, ResumeSession, StepTimer, type TrainingParts } from './scheme/session.js';
import { latticeOf, subnetId, type SortedSpec, type SubnetSpec } from './spec.js';
import { trainStep } from './step.js';
import { SortedNetError } from '../runtime/errors.js';

export interface TrainOptions extends Partial<TrainConfig> {
  /** A loaded data set, or where to load Fashion-MNIST from. @defaultValue see loadFashionMnist */
  data?: Dataset | LoadOptions;
  /** Write the checkpoint here (atomically), and the plot next to it as `*.accuracy.svg`. @defaultValue not written */
  out?: string;
  /**
   * Continue the run whose resume file (`<out>.resume.safetensors`, see `checkpointEvery`) sits
   * next to `out`, on the same data. Config fields left out come from the file; given ones must
   * match it, except backend, workers, evalEachEpoch and checkpointEvery. @defaultValue false
   */
  resume?: boolean;
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
  /** Mean cross-entropy of the sampled subnets at each step (resumed runs include the steps before). */
  losses: number[];
  /** Paths written when `out` was given. */
  files?: { checkpoint: string; plot: string };
}


export async function train(options: TrainOptions = {}): Promise<TrainResult> {
  const { data: dataOption, out, onProgress, resume, ...partial } = options;
  const session = await ResumeSession.open('mlp', { out, resume });
  const config = resolveConfig(session.config(partial), session.resumed ? session.path : '<api>');
  session.start(config.checkpointEvery);
  if (out) await mkdir(dirname(out), { recursive: true });
  const emit = onProgress ?? (() => {});

  // Backend and data.
  const backend = await initBackend(config.backend);
  const data = await trainingData(dataOption);

  // Model, lattice and optimizer (from the resume file when resuming).
  const rng = new Rng(config.seed);
  const mlpConfig = { inputSize: data.inputSize, hidden: config.hidden, classes: data.classes };
  const depth = config.depths[config.depths.length - 1]!;
  const model = session.resumed
    ? SortedMlp.fromTensors(session.resumed.weights, { trainable: true, file: session.path })
    : SortedMlp.init(mlpConfig, depth, rng);
  const dims = { depth: config.depths, width: config.widths };
  const lattice = latticeOf(dims);
  const weight = costWeight((l) => mlpMacs(mlpConfig, l, depth), config.costPower);
  const adam = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: config.weightDecay };
  const optimizer = new AdamW({ lr: config.lr, ...adam });
  const stepOptions = { distill: config.distill > 0 ? { alpha: config.distill, temperature: config.distillTemperature } : undefined, largestWeight: config.largestWeight };

  // Schedule: whole batches only; a split smaller than a batch is one batch.
  const batchSize = Math.min(config.batch, data.train.n);
  const stepsPerEpoch = Math.floor(data.train.n / batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const { inputSize } = mlpConfig;
  const xBuf = new Float32Array(batchSize * inputSize);
  const yBuf = new Uint8Array(batchSize);
  const order = Uint32Array.from({ length: data.train.n }, (_, i) => i);
  const parts: TrainingParts = {
    optimizer, variables: model.variables(), names: model.names(), rng, order,
    data: { train: data.train.n, sha256: session.resumed || config.checkpointEvery ? sha256Of(data.train.images, data.train.labels) : '' },
  };
  const spec = (subnets: SubnetSpec[], training: Record<string, unknown>): SortedSpec => ({
    format: 'sortednet-checkpoint', version: 1, arch: 'mlp', config: mlpConfig, dims, subnets, training,
    data: { name: data.name, source: `${data.source}:${data.dir}`, train: data.train.n, test: data.test.n },
  });

  let group: ReplicaGroup | undefined;
  try {
    if (model.config.inputSize !== inputSize || model.config.hidden !== config.hidden || model.depth !== depth) {
      throw new SortedNetError({ code: 'BAD_CHECKPOINT', file: session.path ?? '<api>', field: 'layers.0.weight', found: `a ${model.depth}-layer model of ${model.config.hidden} units on ${model.config.inputSize} inputs`, fix: 'resume on the data and config the run started with' });
    }
    const from = session.restore(parts, 'resume with the same --data and --limit-train');
    const losses = from.losses;
    let epochLoss = from.loop.epochLoss ?? 0;
    const timer = new StepTimer();
    emit({ type: 'start', backend, totalSteps, stepsPerEpoch, epochs: config.epochs, subnets: lattice.length, train: data.train.n, test: data.test.n, ...(from.step ? { resumedAt: from.step } : {}) });

    // Worker replicas start from these weights and optimizer state and split each batch (see parallel.ts).
    if (config.workers > 1) {
      if (backend !== 'wasm') throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'workers', found: `${config.workers} on the ${backend} backend`, fix: 'use --workers 1 (native TensorFlow is already multi-threaded)' });
      group = await ReplicaGroup.start(model, optimizer, adam, lattice, { replicas: config.workers, maxBatch: batchSize, reduce: config.reduce, step: stepOptions });
    }
    for (let step = from.step; step < totalSteps; step++) {
      const { epoch, first } = loadStep(step, stepsPerEpoch, rng, data.train, order, batchSize, xBuf, yBuf);
      if (first) epochLoss = 0;
      const lr = lrAt(step, totalSteps, config);
      const phase = samplingAt(config, step, totalSteps);
      const { subnets } = planStep(dims, phase.groups, phase.sampling, rng, weight);
      const batch = { x: xBuf, labels: yBuf, n: batchSize };
      optimizer.learningRate = lr;
      const loss = group
        ? group.step(batch, subnets.map((l) => lattice.findIndex((m) => subnetId(m) === subnetId(l))), lr)
        : trainStep(model, optimizer, batch, subnets, config.reduce, stepOptions);
      checkLoss(loss, step, config.lr);
      losses.push(loss);
      epochLoss += loss;
      const stepsPerSec = timer.tick();
      emit({ type: 'step', step: step + 1, totalSteps, epoch: epoch + 1, loss, lr, stepsPerSec, etaSec: (totalSteps - step - 1) / stepsPerSec, subnets: subnets.map(subnetId) });
      if ((step + 1) % stepsPerEpoch === 0) {
        const ends = { depth: [...new Set([config.depths[0]!, model.depth])], width: [...new Set([config.widths[0]!, 1])] };
        const checks = config.evalEachEpoch && data.test.n > 0 ? evaluateSubnets(model, data.test, ends) : [];
        emit({
          type: 'epoch', epoch: epoch + 1, epochs: config.epochs, trainLoss: epochLoss / stepsPerEpoch,
          checks: checks.filter((c) => c.id === subnetId(lattice[0]!) || c.id === subnetId(lattice[lattice.length - 1]!)),
        });
      }
      if (session.due(step + 1)) {
        await session.save(parts, model.toTensors(), { step: step + 1, totalSteps, config, losses, loop: { epochLoss } }, spec([], { ...config }));
      }
    }
    const trainSeconds = timer.seconds();
    await group?.stop();
    group = undefined;

    // Evaluate every subnet and build the checkpoint.
    const subnets = evaluateSubnets(model, data.test, dims);
    emit({ type: 'eval', subnets });
    const checkpoint: Checkpoint = {
      spec: spec(subnets, {
        ...config,
        backendUsed: backend,
        optimizer: { name: config.weightDecay > 0 ? 'adamw' : 'adam', ...adam },
        lrSchedule: 'linear warm-up then cosine decay',
        steps: totalSteps,
        stepsPerEpoch,
        batchUsed: batchSize,
        finalLoss: losses.length ? losses[losses.length - 1] : null,
        seconds: Math.round(trainSeconds * 10) / 10,
        ...(from.step ? { resumedAt: from.step } : {}),
      }),
      tensors: model.toTensors(),
    };
    let files: TrainResult['files'];
    if (out) {
      await writeCheckpoint(out, checkpoint);
      await session.finish();
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
