/**
 * The `sortednet` document stored in a checkpoint's safetensors `__metadata__`.
 * Written by training, read by the packager. See docs/checkpoint.md.
 *
 * @example
 * const spec: SortedSpec = { format: 'sortednet-checkpoint', version: 1, arch: 'mlp',
 *   config: { inputSize: 784, hidden: 512, classes: 10 },
 *   dims: { depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] }, subnets: [], training: {} };
 */

/** A nesting dimension. */
export type Dim = 'depth' | 'width' | 'heads' | 'ffn';
export const DIMS: readonly Dim[] = ['depth', 'width', 'heads', 'ffn'];

export type Arch = 'mlp' | 'cnn' | 'gpt';
export const ARCHS: readonly Arch[] = ['mlp', 'cnn', 'gpt'];

/** Sorted MLP: `depth` hidden layers of `hidden` units, then a shared classifier head. */
export interface MlpConfig {
  /** Flattened input features (784 for 28x28 images). */
  inputSize: number;
  /** Units per hidden layer in the full network. */
  hidden: number;
  /** Output classes. */
  classes: number;
}

/** One level per dim, e.g. `{ depth: 2, width: 0.5 }`. */
export type Levels = Partial<Record<Dim, number>>;

export interface SubnetMetrics {
  /** Top-1 accuracy on the held-out split, 0..1 (classifiers). */
  accuracy?: number;
  /** Mean cross-entropy on the held-out split. */
  loss?: number;
  /** Held-out perplexity (language models). */
  perplexity?: number;
}

export interface SubnetSpec {
  /** Stable readable id, e.g. `d2-w50`. */
  id: string;
  levels: Levels;
  /** Parameters this subnet uses. */
  params: number;
  /** Multiply-accumulates per example. */
  macs: number;
  metrics: SubnetMetrics;
}

export interface SortedSpec {
  format: 'sortednet-checkpoint';
  version: 1;
  arch: Arch;
  config: MlpConfig | Record<string, unknown>;
  /** Allowed levels per dim, ascending. depth: layer counts; width: fractions in (0, 1]. */
  dims: Partial<Record<Dim, number[]>>;
  /** Every subnet of the lattice, smallest first, with held-out metrics. */
  subnets: SubnetSpec[];
  /** Training config as run (free-form, for provenance). */
  training: Record<string, unknown>;
  /** Data the metrics were measured on. */
  data?: { name: string; source: string; train: number; test: number };
  /** Tokenizer for language models. */
  tokenizer?: Record<string, unknown>;
}

/** Subnet id from its levels: depth `d2`, width `w50` (percent), heads `h4`, ffn `f25` (percent). */
export function subnetId(levels: Levels): string {
  const parts: string[] = [];
  if (levels.depth !== undefined) parts.push(`d${levels.depth}`);
  if (levels.width !== undefined) parts.push(`w${Math.round(levels.width * 100)}`);
  if (levels.heads !== undefined) parts.push(`h${levels.heads}`);
  if (levels.ffn !== undefined) parts.push(`f${Math.round(levels.ffn * 100)}`);
  return parts.join('-');
}

/** Units kept at a width fraction: round(fraction * full), at least 1. */
export function widthUnits(fraction: number, full: number): number {
  return Math.max(1, Math.round(fraction * full));
}

/** Every combination of levels (the lattice), ordered smallest first by dims in DIMS order. */
export function latticeOf(dims: Partial<Record<Dim, number[]>>): Levels[] {
  let out: Levels[] = [{}];
  for (const dim of DIMS) {
    const levels = dims[dim];
    if (!levels) continue;
    const next: Levels[] = [];
    for (const base of out) for (const l of levels) next.push({ ...base, [dim]: l });
    out = next;
  }
  return out;
}
