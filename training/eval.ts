/**
 * Evaluate every subnet on a held-out split: top-1 accuracy and mean cross-entropy.
 * All depths at one width come out of one forward pass (the head is applied after each
 * requested depth), so the lattice costs one pass per width.
 *
 * @example
 * const subnets = evaluateSubnets(model, data.test, { depth: [1, 2, 3], width: [0.25, 1] });
 * console.log(formatTable(subnets));
 * // | subnet  | depth | width | params  | MACs    | accuracy | loss   |
 * // | d1-w25  |     1 |  0.25 | 201,482 | 201,344 |   85.12% | 0.4210 |
 */
import * as tf from '@tensorflow/tfjs-core';
import { mlpMacs, mlpParams, type SortedMlp } from './models/mlp.js';
import { latticeOf, subnetId, widthUnits, type Dim, type Levels, type SubnetSpec } from './spec.js';
import type { Dataset, Split } from './data/fashion-mnist.js';
import { writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { plotPathFor, writeAccuracyPlot } from './plot.js';

export interface EvalOptions {
  /** Examples per forward pass. @defaultValue 1000 */
  batch?: number;
}

/** Accuracy and loss of each subnet, in `latticeOf(dims)` order (smallest first). */
export function evaluateSubnets(model: SortedMlp, split: Split, dims: Partial<Record<Dim, number[]>>, opts: EvalOptions = {}): SubnetSpec[] {
  const depths = dims.depth ?? [model.depth];
  const widths = dims.width ?? [1];
  const batch = opts.batch ?? 1000;
  const correct = new Map<string, number>();
  const lossSum = new Map<string, number>();
  const key = (d: number, w: number) => subnetId({ depth: d, width: w });
  const inputSize = model.config.inputSize;
  for (let start = 0; start < split.n; start += batch) {
    const n = Math.min(batch, split.n - start);
    tf.tidy(() => {
      const x = tf.tensor2d(split.images.subarray(start * inputSize, (start + n) * inputSize), [n, inputSize]);
      const labels = tf.tensor1d(Int32Array.from(split.labels.subarray(start, start + n)), 'int32');
      for (const w of widths) {
        const logits = model.forwardDepths(x, widthUnits(w, model.config.hidden), depths);
        depths.forEach((d, i) => {
          const l = logits[i]!;
          const hits = tf.sum(tf.cast(tf.equal(tf.argMax(l, 1), labels), 'float32')).dataSync()[0]!;
          const logp = tf.logSoftmax(l);
          const nll = -tf.sum(tf.mul(logp, tf.oneHot(labels, model.config.classes))).dataSync()[0]!;
          correct.set(key(d, w), (correct.get(key(d, w)) ?? 0) + hits);
          lossSum.set(key(d, w), (lossSum.get(key(d, w)) ?? 0) + nll);
        });
      }
    });
  }
  return latticeOf({ ...dims, depth: depths, width: widths }).map((levels) => subnetSpec(model, levels, {
    accuracy: split.n ? correct.get(subnetId(levels))! / split.n : NaN,
    loss: split.n ? lossSum.get(subnetId(levels))! / split.n : NaN,
  }));
}

/** The SubnetSpec (id, params, MACs) of `levels`, with the given metrics. */
export function subnetSpec(model: SortedMlp, levels: Levels, metrics: SubnetSpec['metrics']): SubnetSpec {
  return {
    id: subnetId(levels),
    levels,
    params: mlpParams(model.config, levels, model.depth),
    macs: mlpMacs(model.config, levels, model.depth),
    metrics,
  };
}

/** Markdown table of subnets: id, levels, params, MACs, accuracy, loss. */
export function formatTable(subnets: readonly SubnetSpec[]): string {
  const rows = subnets.map((s) => [
    s.id,
    String(s.levels.depth ?? ''),
    s.levels.width === undefined ? '' : s.levels.width.toFixed(2),
    s.params.toLocaleString('en-US'),
    s.macs.toLocaleString('en-US'),
    s.metrics.accuracy === undefined ? '' : `${(s.metrics.accuracy * 100).toFixed(2)}%`,
    s.metrics.loss === undefined ? '' : s.metrics.loss.toFixed(4),
  ]);
  const head = ['subnet', 'depth', 'width', 'params', 'MACs', 'accuracy', 'loss'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), sep, ...rows.map(line)].join('\n');
}

/**
 * What `sortednet eval` does with a classifier's results: print them (table or JSON) and, with
 * `update`, store them in the checkpoint (atomically) and redraw its accuracy plot.
 */
export async function reportEvaluation(file: string, ckpt: Checkpoint, data: Dataset, subnets: SubnetSpec[], opts: { json?: boolean; update?: boolean }): Promise<void> {
  console.log(opts.json ? JSON.stringify(subnets, null, 2) : formatTable(subnets));
  if (!opts.update) return;
  ckpt.spec.subnets = subnets;
  ckpt.spec.data = { name: data.name, source: `${data.source}:${data.dir}`, train: ckpt.spec.data?.train ?? 0, test: data.test.n };
  await writeCheckpoint(file, ckpt);
  await writeAccuracyPlot(file, subnets);
  process.stderr.write(`updated ${file} and ${plotPathFor(file)}\n`);
}
