/**
 * Sorted MLP graphs. Width nesting is stored as L-shaped blocks: for a layer and width level j,
 * `col_j = W[:in_j, u_(j-1):u_j]` and `row_j = W[u_(j-1):u_j, :u_(j-1)]`; biases as per-level
 * segments. A subnet's weight is a Concat tree over its blocks (folded at load).
 *
 * @example
 * const cfg = { inputSize: 4, hidden: 8, classes: 3 };
 * mlpBlocks(cfg, { depth: [1, 2], width: [0.5, 1] }).map((b) => b.name).slice(0, 3);
 * // ['layers.0.weight[:,:4]', 'layers.0.bias[:4]', 'layers.0.weight[:,4:8]']
 * mlpGraph(cfg, { depth: [1, 2], width: [0.5, 1] }, { depth: 1, width: 0.5 }).initializers;
 * // ['layers.0.weight[:,:4]', 'layers.0.bias[:4]', 'head.weight[:4,:]', 'head.bias']
 */
import { ops, sliceName, type GraphDef, graphParts } from '../graph.js';
import type { Dim, IoEntry, Levels } from '../manifest-types.js';

/** Sorted MLP: `depth` hidden layers of `hidden` units, then a shared classifier head. */
export interface MlpConfig {
  /** Flattened input features (784 for 28x28 images). */
  inputSize: number;
  /** Units per hidden layer in the full network. */
  hidden: number;
  /** Output classes. */
  classes: number;
}

export const MLP_CONFIG_KEYS = ['inputSize', 'hidden', 'classes'] as const;

type Dims = Partial<Record<Dim, number[]>>;

/** A stored block: the region `[start, start + dims)` of checkpoint tensor `source`. */
export interface MlpBlock {
  name: string;
  source: string;
  start: number[];
  dims: number[];
}

/** Units kept at a width fraction: round(fraction * full), at least 1 (as in training). */
export function widthUnits(fraction: number, full: number): number {
  return Math.max(1, Math.round(fraction * full));
}

/** Hidden units per width level; `width` absent means one level, the full width. */
export function mlpUnits(config: MlpConfig, dims: Dims): number[] {
  return (dims.width ?? [1]).map((w) => widthUnits(w, config.hidden));
}

function block(source: string, full: number[], ranges: [number, number][]): MlpBlock {
  return { name: sliceName(source, ranges, full), source, start: ranges.map((r) => r[0]), dims: ranges.map(([a, b]) => b - a) };
}

/** The blocks of layer `i` (or the head, i = -1) added at width level `j`. */
export function levelBlocks(config: MlpConfig, units: number[], i: number, j: number): { col?: MlpBlock; row?: MlpBlock; bias?: MlpBlock } {
  const { inputSize, hidden, classes } = config;
  const lo = j === 0 ? 0 : units[j - 1]!;
  const hi = units[j]!;
  if (i < 0) {
    const row = block('head.weight', [hidden, classes], [[lo, hi], [0, classes]]);
    return { row };
  }
  const w = `layers.${i}.weight`;
  const inFull = i === 0 ? inputSize : hidden;
  const col = block(w, [inFull, hidden], [[0, i === 0 ? inputSize : hi], [lo, hi]]);
  const row = i > 0 && j > 0 ? block(w, [inFull, hidden], [[lo, hi], [0, lo]]) : undefined;
  const bias = block(`layers.${i}.bias`, [hidden], [[lo, hi]]);
  return { col, row, bias };
}

/** Every stored block, in canonical order (layer by layer, level by level, head last). */
export function mlpBlocks(config: MlpConfig, dims: Dims): MlpBlock[] {
  const units = mlpUnits(config, dims);
  const depth = Math.max(...(dims.depth ?? [1]));
  const out: MlpBlock[] = [];
  for (let i = 0; i < depth; i++) {
    units.forEach((_, j) => {
      const b = levelBlocks(config, units, i, j);
      for (const x of [b.col, b.row, b.bias]) if (x) out.push(x);
    });
  }
  units.forEach((_, j) => out.push(levelBlocks(config, units, -1, j).row!));
  out.push(block('head.bias', [config.classes], [[0, config.classes]]));
  return out;
}

export function mlpIo(config: MlpConfig): { inputs: IoEntry[]; outputs: IoEntry[] } {
  return {
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', config.inputSize] }],
    outputs: [{ name: 'logits', dtype: 'float32', dims: ['batch', config.classes] }],
  };
}

/** Level index of a subnet's width (the last level when the dim is absent). */
function widthIndex(dims: Dims, levels: Levels): number {
  const widths = dims.width ?? [1];
  return levels.width === undefined ? widths.length - 1 : widths.indexOf(levels.width);
}

/**
 * The subnet's graph: per layer `relu(h @ W + b)`, then `h @ head.weight + head.bias`.
 * Weights are Concat trees over stored blocks; `foldConcats` turns them into plain initializers.
 */
export function mlpGraph(config: MlpConfig, dims: Dims, levels: Levels): GraphDef {
  const units = mlpUnits(config, dims);
  const j = widthIndex(dims, levels);
  const depth = levels.depth ?? Math.max(...(dims.depth ?? [1]));
  const u = units[j]!;
  const { nodes, initializers, use, concat } = graphParts();
  const { inputSize, hidden } = config;
  let h = 'input';
  for (let i = 0; i < depth; i++) {
    const w = `layers.${i}.weight`;
    let weight: string;
    if (i === 0) {
      const cols = units.slice(0, j + 1).map((_, k) => use(levelBlocks(config, units, 0, k).col!));
      weight = concat(cols, 1, sliceName(w, [[0, inputSize], [0, u]], [inputSize, hidden]));
    } else {
      weight = use(levelBlocks(config, units, i, 0).col!);
      for (let k = 1; k <= j; k++) {
        const b = levelBlocks(config, units, i, k);
        const prev = units[k - 1]!;
        const tall = concat([weight, use(b.row!)], 0, sliceName(w, [[0, units[k]!], [0, prev]], [hidden, hidden]));
        weight = concat([tall, use(b.col!)], 1, sliceName(w, [[0, units[k]!], [0, units[k]!]], [hidden, hidden]));
      }
    }
    const segs = units.slice(0, j + 1).map((_, k) => use(levelBlocks(config, units, i, k).bias!));
    const bias = concat(segs, 0, sliceName(`layers.${i}.bias`, [[0, u]], [hidden]));
    nodes.push(ops.MatMul(h, weight, `layers.${i}.matmul`), ops.Add(`layers.${i}.matmul`, bias, `layers.${i}.add`), ops.Relu(`layers.${i}.add`, `layers.${i}.relu`));
    h = `layers.${i}.relu`;
  }
  const rows = units.slice(0, j + 1).map((_, k) => use(levelBlocks(config, units, -1, k).row!));
  const head = concat(rows, 0, sliceName('head.weight', [[0, u], [0, config.classes]], [hidden, config.classes]));
  const headBias = use(block('head.bias', [config.classes], [[0, config.classes]]));
  nodes.push(ops.MatMul(h, head, 'head.matmul'), ops.Add('head.matmul', headBias, 'logits'));
  return { name: 'sortednet_mlp', ...mlpIo(config), nodes, initializers };
}

/** Multiply-accumulates per example. */
export function mlpMacs(config: MlpConfig, dims: Dims, levels: Levels): number {
  const u = mlpUnits(config, dims)[widthIndex(dims, levels)]!;
  const depth = levels.depth ?? Math.max(...(dims.depth ?? [1]));
  return config.inputSize * u + (depth - 1) * u * u + u * config.classes;
}

/** Rough peak activation bytes per example: input, two hidden buffers, logits (float32). */
export function mlpActivationBytes(config: MlpConfig, dims: Dims, levels: Levels): number {
  const u = mlpUnits(config, dims)[widthIndex(dims, levels)]!;
  return 4 * (config.inputSize + 2 * u + config.classes);
}
