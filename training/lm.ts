/**
 * Language-model training pieces for the sorted GPT: token windows, the all-exits loss of
 * Sorted LLaMA, one optimizer step (any sampling, optional distillation), and held-out
 * perplexity of every subnet.
 *
 * All-exits: one forward pass at one (heads, ffn) level yields logits after every depth
 * level (the shared final norm and head are applied at each exit); the step's loss is the
 * SUM of the exits' mean token cross-entropies, so every depth trains on every step.
 *
 * @example
 * const rng = new Rng(0);
 * const b = sampleWindows(trainTokens, 16, 64, rng);             // ids and targets, 16 x 64
 * const exits = lmTrainStep(model, adam, b, { heads: 2, ffn: 0.5 }, [1, 2, 3, 4]); // [5.1, 4.8, 4.6, 4.5]
 * const subnets = evaluateGpt(model, testTokens, { depth: [1, 2, 3, 4], heads: [2, 4], ffn: [0.5, 1] });
 * subnets[0]!.metrics.perplexity; // 142.3
 */
import * as tf from '@tensorflow/tfjs-core';
import { SortedNetError } from '../runtime/errors.js';
import { gptMacs, gptParams, type SortedGpt } from './models/gpt.js';
import { lmCrossEntropy } from './models/gpt-ops.js';
import type { Rng } from './rng.js';
import { applyTo, sortedStep } from './scheme/objective.js';
import type { Pass } from './scheme/sampling.js';
import { latticeOf, subnetId, type Dim, type Levels, type SubnetSpec } from './spec.js';
import type { StepOptions } from './step.js';

/** A batch of next-token examples: ids[i] predicts targets[i], row-major [batch, seq]. */
export interface LmBatch {
  ids: Int32Array;
  targets: Int32Array;
  batch: number;
  seq: number;
}

/** `batch` random windows of seq + 1 tokens: ids = window[0..seq), targets = window[1..seq]. */
export function sampleWindows(tokens: Int32Array, batch: number, seq: number, rng: Rng): LmBatch {
  if (tokens.length < seq + 1) {
    throw new SortedNetError({ code: 'BAD_DATA', file: '<api>', field: 'tokens', found: `${tokens.length} tokens`, fix: `give at least seq + 1 = ${seq + 1} tokens, or shorten --context` });
  }
  const ids = new Int32Array(batch * seq);
  const targets = new Int32Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    const start = rng.int(tokens.length - seq);
    ids.set(tokens.subarray(start, start + seq), b * seq);
    targets.set(tokens.subarray(start + 1, start + seq + 1), b * seq);
  }
  return { ids, targets, batch, seq };
}

/**
 * Combined loss of the depth exits at one heads/ffn level (differentiable): the sum of the
 * exits' mean cross-entropies, plus each exit's loss for logging.
 */
export function allExitsLoss(model: SortedGpt, ids: tf.Tensor1D, targets: tf.Tensor1D, batch: number, seq: number, levels: Omit<Levels, 'depth'>, depths: number[]): { total: tf.Scalar; exits: tf.Scalar[] } {
  const logits = model.forwardDepths(ids, batch, seq, levels, depths);
  const exits = logits.map((l) => lmCrossEntropy(l, targets));
  return { total: exits.length === 1 ? exits[0]! : (tf.addN(exits) as tf.Scalar), exits };
}

/**
 * One optimizer step on the planned passes (each one forward pass at one heads/ffn level,
 * trained at its depth exits), optionally distilled from the full model's detached logits;
 * the loss is the SUM of the subnets' mean token cross-entropies (see scheme/objective.ts).
 * Returns each trained subnet's cross-entropy in pass order (before the update).
 */
export function lmStep(model: SortedGpt, optimizer: tf.Optimizer, batch: LmBatch, passes: readonly Pass[], opts: StepOptions = {}): number[] {
  return tf.tidy(() => {
    const ids = tf.tensor1d(batch.ids, 'int32');
    const targets = tf.tensor1d(batch.targets, 'int32');
    return sortedStep({
      variables: model.variables(),
      forward: (levels, depths) => model.forwardDepths(ids, batch.batch, batch.seq, levels, depths),
      hardLoss: (logits) => lmCrossEntropy(logits, targets),
      passes,
      scale: 1,
      full: { depth: model.depth, heads: model.config.heads, ffn: 1 },
      distill: opts.distill,
      depthWeight: opts.depthWeight,
      largestWeight: opts.largestWeight,
    }, applyTo(optimizer));
  });
}

/**
 * One step on the all-exits loss of each (heads, ffn) group in `groups` (their sum);
 * returns each depth exit's loss averaged over the groups, in `depths` order (before the update).
 */
export function lmTrainStep(model: SortedGpt, optimizer: tf.Optimizer, batch: LmBatch, groups: Omit<Levels, 'depth'> | Omit<Levels, 'depth'>[], depths: number[]): number[] {
  const gs = Array.isArray(groups) ? groups : [groups];
  const losses = lmStep(model, optimizer, batch, gs.map((levels) => ({ levels, depths })));
  return depths.map((_, d) => gs.reduce((sum, _g, g) => sum + losses[g * depths.length + d]!, 0) / gs.length);
}

export interface LmEvalOptions {
  /** Tokens per window; each window predicts its tokens from the ones before it in the window. @defaultValue model context */
  seq?: number;
  /** Windows per forward pass. @defaultValue 16 */
  batch?: number;
  /** Use at most this many held-out tokens (from the start). @defaultValue all */
  maxTokens?: number;
}

/**
 * Held-out loss and perplexity (exp of mean token cross-entropy) of every subnet, in
 * `latticeOf(dims)` order. The tokens are cut into non-overlapping windows of seq + 1
 * (each token predicted once); all depths at one heads/ffn level come from one pass.
 */
export function evaluateGpt(model: SortedGpt, tokens: Int32Array, dims: Partial<Record<Dim, number[]>>, opts: LmEvalOptions = {}): SubnetSpec[] {
  const seq = opts.seq ?? model.config.context;
  const batchSize = opts.batch ?? 16;
  const usable = Math.min(tokens.length, opts.maxTokens ?? Infinity);
  const windows = Math.floor((usable - 1) / seq);
  const depths = dims.depth ?? [model.depth];
  const headsLevels = dims.heads ?? [model.config.heads];
  const ffnLevels = dims.ffn ?? [1];
  const full = (levels: Levels): Levels => ({ depth: levels.depth ?? model.depth, heads: levels.heads ?? model.config.heads, ffn: levels.ffn ?? 1 });
  const nll = new Map<string, number>();
  for (let w0 = 0; w0 < windows; w0 += batchSize) {
    const nb = Math.min(batchSize, windows - w0);
    const ids = new Int32Array(nb * seq);
    const targets = new Int32Array(nb * seq);
    for (let b = 0; b < nb; b++) {
      const start = (w0 + b) * seq;
      ids.set(tokens.subarray(start, start + seq), b * seq);
      targets.set(tokens.subarray(start + 1, start + seq + 1), b * seq);
    }
    tf.tidy(() => {
      const idsT = tf.tensor1d(ids, 'int32');
      const tgT = tf.tensor1d(targets, 'int32');
      for (const heads of headsLevels) {
        for (const ffn of ffnLevels) {
          const logits = model.forwardDepths(idsT, nb, seq, { heads, ffn }, depths);
          depths.forEach((depth, i) => {
            const key = subnetId(full({ depth, heads, ffn }));
            const sum = lmCrossEntropy(logits[i]!, tgT).dataSync()[0]! * nb * seq;
            nll.set(key, (nll.get(key) ?? 0) + sum);
          });
        }
      }
    });
  }
  const count = windows * seq;
  // Ids carry only the dims the caller named (e.g. `d2-h4` when ffn is not nested).
  const named = Object.fromEntries((['depth', 'heads', 'ffn'] as const).filter((k) => dims[k]).map((k) => [k, dims[k]]));
  return latticeOf(named).map((levels) => {
    const loss = count ? nll.get(subnetId(full(levels)))! / count : NaN;
    return {
      id: subnetId(levels),
      levels,
      params: gptParams(model.config, levels),
      macs: gptMacs(model.config, levels),
      metrics: { loss, perplexity: Math.exp(loss) },
    };
  });
}

/** Markdown table: subnet, depth, heads, ffn, params, MACs per full-context sequence, loss, perplexity. */
export function formatLmTable(subnets: readonly SubnetSpec[]): string {
  const head = ['subnet', 'depth', 'heads', 'ffn', 'params', 'MACs/seq', 'loss', 'perplexity'];
  const rows = subnets.map((s) => [
    s.id,
    String(s.levels.depth ?? ''),
    String(s.levels.heads ?? ''),
    s.levels.ffn === undefined ? '' : s.levels.ffn.toFixed(2),
    s.params.toLocaleString('en-US'),
    s.macs.toLocaleString('en-US'),
    s.metrics.loss === undefined ? '' : s.metrics.loss.toFixed(4),
    s.metrics.perplexity === undefined ? '' : s.metrics.perplexity.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), sep, ...rows.map(line)].join('\n');
}
