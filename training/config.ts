/**
 * The training config: every knob of a run, with its default. Stored verbatim in the
 * checkpoint's `sortednet.training`, so a run can be repeated from its checkpoint.
 *
 * @example
 * resolveConfig({ hidden: 64, epochs: 1 }).lr; // 0.002
 * resolveConfig({ hiden: 64 }); // SortedNetError: <api>: config.hiden: unknown key "hiden". Fix: did you mean "hidden"?
 */
import { rejectUnknownKeys, SortedNetError } from '../runtime/errors.js';
import type { BackendChoice } from './backend.js';
import { checkScheme, DEFAULT_SCHEME, type SchemeConfig } from './scheme/config.js';
import type { Sampling } from './scheme/sampling.js';

export { SAMPLINGS, type Sampling } from './scheme/sampling.js';

/** How the g subnets' gradients combine into one step. */
export type Reduce = 'mean' | 'sum';
export const REDUCES: readonly Reduce[] = ['mean', 'sum'];

export interface TrainConfig extends SchemeConfig {
  /** Architecture to train. Only the sorted MLP for now. @defaultValue 'mlp' */
  arch: 'mlp';
  /** Units per hidden layer of the full network. @defaultValue 512 */
  hidden: number;
  /** Depth levels (hidden layers), ascending; the largest is the full depth. @defaultValue [1, 2, 3] */
  depths: number[];
  /** Width levels as fractions of `hidden`, ascending, the last one 1. @defaultValue [0.25, 0.5, 0.75, 1] */
  widths: number[];
  /** Passes over the training split. @defaultValue 10 */
  epochs: number;
  /** Examples per optimizer step (one mini-batch shared by the sampled subnets). @defaultValue 128 */
  batch: number;
  /** Peak Adam learning rate. @defaultValue 0.002 */
  lr: number;
  /** Final learning rate as a fraction of `lr`, reached by cosine decay. @defaultValue 0.02 */
  lrMinFraction: number;
  /** Linear warm-up steps from 0 to `lr`, at most a tenth of the run. @defaultValue 200 */
  warmupSteps: number;
  /**
   * Subnets sampled per step (g), or width groups per step under `all-exits`. Each sees the
   * same mini-batch and their gradients accumulate into one step. @defaultValue 4
   */
  groups: number;
  /**
   * How subnets are sampled each step. `sandwich` always includes the largest and the smallest
   * and fills the rest at random; `uniform` draws g distinct subnets; `all-exits` draws g widths
   * and trains every depth of each from one forward pass. @defaultValue 'sandwich'
   */
  sampling: Sampling;
  /**
   * How the g subnet losses (and so their gradients) combine: `mean` divides the summed
   * gradients by g, so the step size does not depend on g; `sum` adds them. Adam is nearly
   * invariant to this scale; it matters with plain SGD. @defaultValue 'mean'
   */
  reduce: Reduce;
  /** Seed for weights, batch order and subnet sampling. @defaultValue 0 */
  seed: number;
  /** Evaluate the smallest and largest subnets on the test split after each epoch. @defaultValue true */
  evalEachEpoch: boolean;
  /** TensorFlow.js backend. @defaultValue 'auto' (tfjs-node if installed, else wasm) */
  backend: BackendChoice;
  /**
   * Data-parallel replicas: 1 trains on the calling thread; 2 or more add worker threads, each
   * with its own tfjs-wasm, that split every mini-batch (wasm is single-threaded in Node, so
   * this is how a second core helps). wasm backend only. @defaultValue 1
   */
  workers: number;
}

export const DEFAULT_CONFIG: Readonly<TrainConfig> = Object.freeze({
  arch: 'mlp',
  hidden: 512,
  depths: [1, 2, 3],
  widths: [0.25, 0.5, 0.75, 1],
  epochs: 10,
  batch: 128,
  lr: 0.002,
  lrMinFraction: 0.02,
  warmupSteps: 200,
  groups: 4,
  sampling: 'sandwich',
  reduce: 'mean',
  seed: 0,
  evalEachEpoch: true,
  backend: 'auto',
  workers: 1,
  ...DEFAULT_SCHEME,
});

export const CONFIG_KEYS = Object.keys(DEFAULT_CONFIG) as (keyof TrainConfig)[];

/** Defaults filled in and every field checked; throws BAD_OPTION naming the field and the fix. */
export function resolveConfig(partial: Partial<TrainConfig>, file = '<api>'): TrainConfig {
  rejectUnknownKeys(partial, CONFIG_KEYS, 'BAD_OPTION', file, 'config');
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const c: TrainConfig = { ...DEFAULT_CONFIG, ...defined } as TrainConfig;
  const fail = (field: keyof TrainConfig, found: unknown, fix: string): never => {
    throw new SortedNetError({ code: 'BAD_OPTION', file, field, found: JSON.stringify(found), fix });
  };
  const posInt = (field: keyof TrainConfig) => {
    const v = c[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(field, v, 'use a whole number >= 1');
  };
  if (c.arch !== 'mlp') fail('arch', c.arch, 'use mlp here; the CNN trains with trainCnn() or --arch cnn');
  (['hidden', 'epochs', 'batch', 'groups', 'workers'] as const).forEach(posInt);
  if (c.workers > 1 && c.backend !== 'wasm' && c.backend !== 'auto') fail('workers', c.workers, 'worker threads run tfjs-wasm; use --backend wasm or --workers 1');
  if (c.workers > c.batch) fail('workers', c.workers, `use at most --batch (${c.batch}) workers`);
  if (!Number.isInteger(c.warmupSteps) || c.warmupSteps < 0) fail('warmupSteps', c.warmupSteps, 'use a whole number >= 0');
  if (!Number.isInteger(c.seed)) fail('seed', c.seed, 'use a whole number');
  if (!(c.lr > 0)) fail('lr', c.lr, 'use a positive learning rate such as 0.002');
  if (!(c.lrMinFraction >= 0 && c.lrMinFraction <= 1)) fail('lrMinFraction', c.lrMinFraction, 'use a fraction in [0, 1]');
  const ascending = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);
  if (!Array.isArray(c.depths) || !c.depths.length || !c.depths.every((d) => Number.isInteger(d) && d >= 1) || !ascending(c.depths)) {
    fail('depths', c.depths, 'use ascending whole numbers, e.g. 1,2,3');
  }
  if (!Array.isArray(c.widths) || !c.widths.length || !c.widths.every((w) => w > 0 && w <= 1) || !ascending(c.widths)) {
    fail('widths', c.widths, 'use ascending fractions in (0, 1], e.g. 0.25,0.5,0.75,1');
  }
  if (c.widths[c.widths.length - 1] !== 1) fail('widths', c.widths, `end with 1 (the full width), e.g. ${[...c.widths, 1].join(',')}`);
  checkScheme(c, (field, fix) => fail(field, c[field], fix));
  if (!REDUCES.includes(c.reduce)) fail('reduce', c.reduce, `use ${REDUCES.join(' or ')}`);
  return c;
}

/**
 * Learning rate at `step` (0-based): linear warm-up over `warmupSteps` (at most a tenth of
 * the run, so short runs still train at full rate), then cosine decay to `lr * lrMinFraction`.
 */
export function lrAt(step: number, totalSteps: number, c: Pick<TrainConfig, 'lr' | 'lrMinFraction' | 'warmupSteps'>): number {
  const warm = Math.min(c.warmupSteps, Math.floor(totalSteps / 10));
  if (step < warm) return (c.lr * (step + 1)) / (warm + 1);
  const progress = totalSteps - warm <= 1 ? 1 : (step - warm) / (totalSteps - warm - 1);
  const min = c.lr * c.lrMinFraction;
  return min + (c.lr - min) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
}
