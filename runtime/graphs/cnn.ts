/**
 * Sorted ResNet-style CNN: the layer plan (names, channels, strides) shared by training, the
 * packager and the runtime, and the subnet graph builder (NCHW, as ONNX wants).
 *
 * - stem: 3x3 conv (image channels -> C0, stride `stemStride`), batch norm, ReLU;
 * - `stages` stages; stage s has C_s = channels * 2^s channels and `blocks` basic residual
 *   blocks (3x3 conv, BN, ReLU, 3x3 conv, BN, add the shortcut, ReLU). Block 0 of every stage
 *   halves the resolution (stride-2 conv1, 1x1 stride-2 conv + BN on the shortcut), except
 *   stage 0's when the stem already did (stemStride 2); block 0 is always kept. The other
 *   shortcuts are the identity;
 * - head: global average pool, then a dense layer shared by every subnet.
 *
 * Subnet (d, w) keeps blocks 0..d-1 of every stage and round(w * C) channels of every conv
 * (inputs and outputs), stem and head included. Width nesting is stored as per-level blocks:
 * for a conv weight W (OIHW) and width level j, `col_j = W[o_(j-1):o_j, :i_j]` and
 * `row_j = W[:o_(j-1), i_(j-1):i_j]`; a subnet's weight is a Concat tree over its blocks.
 * Batch-norm statistics depend on the layers before them, so they are stored per key:
 * `w50` for the stem and stage 0 (which no depth cut reaches), `d2-w50` after that.
 *
 * @example
 * const cfg = { imageSize: 28, inChannels: 1, classes: 10, channels: 16, stages: 2, blocks: 4, stemStride: 1 };
 * cnnConvs(cfg).map((c) => c.name).slice(0, 4);
 * // ['stem.conv', 'stages.0.blocks.0.conv1', 'stages.0.blocks.0.conv2', 'stages.0.blocks.0.shortcut.conv']
 * bnStatsKey(cnnConvs(cfg)[10]!, 2, 0.5); // 'd2-w50' (stage 1)
 */
import type { GraphDef, GraphNode } from '../graph.js';
import { ops, sliceName, graphParts } from '../graph.js';
import type { Dim, IoEntry, Levels } from '../manifest-types.js';
import type { ArchGraphs } from './index.js';

/** Sorted ResNet config. Every field is a positive integer (the manifest's config contract). */
export interface CnnConfig {
  /** Input height and width (28 for Fashion-MNIST). */
  imageSize: number;
  /** Input channels (1 for grey images). */
  inChannels: number;
  /** Output classes. */
  classes: number;
  /** Channels of the stem and stage 0; stage s has `channels * 2^s`. */
  channels: number;
  /** Stages; each halves the resolution. */
  stages: number;
  /** Residual blocks per stage in the full network (the largest depth level). */
  blocks: number;
  /**
   * 1 or 2. With 2 the stem halves the resolution and stage 0 keeps it (its block 0 has an
   * identity shortcut); with 1 stage 0's block 0 halves it like every later stage's.
   */
  stemStride: number;
}

export const CNN_CONFIG_KEYS = ['imageSize', 'inChannels', 'classes', 'channels', 'stages', 'blocks', 'stemStride'] as const;

/** Batch-norm epsilon, in training and in the exported BatchNormalization nodes. */
export const BN_EPSILON = 1e-5;

type Dims = Partial<Record<Dim, number[]>>;

/** One convolution followed by its batch norm. */
export interface CnnConv {
  /** Weight prefix: the checkpoint tensor is `${name}.weight` ([kh, kw, in, out]). */
  name: string;
  /** Batch-norm prefix: `${bn}.weight`, `${bn}.bias`, `${bn}.stats.${key}.mean|var`. */
  bn: string;
  /** -1 for the stem. */
  stage: number;
  /** -1 for the stem. */
  block: number;
  role: 'stem' | 'conv1' | 'conv2' | 'shortcut';
  kernel: number;
  stride: number;
  /** Zero padding on every side: (kernel - 1) / 2. */
  pad: number;
  /** Channels in the full network. */
  inChannels: number;
  outChannels: number;
  /** False for the stem, whose input (the image) is never sliced. */
  inNested: boolean;
  /** Spatial size of the input and output (square). */
  inSize: number;
  outSize: number;
}

/** Channels kept at a width fraction: round(fraction * full), at least 1 (as in training). */
export function widthUnits(fraction: number, full: number): number {
  return Math.max(1, Math.round(fraction * full));
}

export function stageChannels(config: CnnConfig, stage: number): number {
  return stage < 0 ? config.channels : config.channels * 2 ** stage;
}

/** Output size of a square conv. */
function convOut(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

/** Every conv of the full network in forward order: stem, then per block conv1, conv2, shortcut. */
export function cnnConvs(config: CnnConfig): CnnConv[] {
  const out: CnnConv[] = [];
  const c0 = stageChannels(config, 0);
  const stem = convOut(config.imageSize, 3, config.stemStride, 1);
  out.push({
    name: 'stem.conv', bn: 'stem.bn', stage: -1, block: -1, role: 'stem', kernel: 3, stride: config.stemStride, pad: 1,
    inChannels: config.inChannels, outChannels: c0, inNested: false, inSize: config.imageSize, outSize: stem,
  });
  let size = stem;
  let channels = c0;
  for (let s = 0; s < config.stages; s++) {
    const cs = stageChannels(config, s);
    for (let b = 0; b < config.blocks; b++) {
      const p = `stages.${s}.blocks.${b}`;
      const stride = b === 0 && !(s === 0 && config.stemStride === 2) ? 2 : 1;
      const inC = b === 0 ? channels : cs;
      const outSize = convOut(size, 3, stride, 1);
      const base = { stage: s, block: b, inNested: true, outChannels: cs };
      out.push({ ...base, name: `${p}.conv1`, bn: `${p}.bn1`, role: 'conv1', kernel: 3, stride, pad: 1, inChannels: inC, inSize: size, outSize });
      out.push({ ...base, name: `${p}.conv2`, bn: `${p}.bn2`, role: 'conv2', kernel: 3, stride: 1, pad: 1, inChannels: cs, inSize: outSize, outSize });
      if (stride === 2) out.push({ ...base, name: `${p}.shortcut.conv`, bn: `${p}.shortcut.bn`, role: 'shortcut', kernel: 1, stride: 2, pad: 0, inChannels: inC, inSize: size, outSize: convOut(size, 1, 2, 0) });
      size = outSize;
    }
    channels = cs;
  }
  return out;
}

/** Channels of the last stage (the head's input). */
export function headChannels(config: CnnConfig): number {
  return stageChannels(config, config.stages - 1);
}

/** Spatial size after the last stage. */
export function finalSize(config: CnnConfig): number {
  const convs = cnnConvs(config);
  return convs[convs.length - 1]!.outSize;
}

/** Depth and width of `levels` (absent dims mean the full network). */
export function resolveCnnLevels(config: CnnConfig, levels: Levels): { depth: number; width: number } {
  return { depth: levels.depth ?? config.blocks, width: levels.width ?? 1 };
}

/** `w50` or `d2-w50`: the levels a batch norm's statistics depend on (what runs before it). */
export function bnStatsKey(conv: Pick<CnnConv, 'stage'>, depth: number, width: number): string {
  const w = `w${Math.round(width * 100)}`;
  return conv.stage <= 0 ? w : `d${depth}-${w}`;
}

/** Convs a subnet of depth `depth` runs. */
export function subnetConvs(config: CnnConfig, depth: number): CnnConv[] {
  return cnnConvs(config).filter((c) => c.block < depth);
}

/** In and out channels of a conv at width `width`. */
export function convChannels(conv: CnnConv, width: number): { cin: number; cout: number } {
  return { cin: conv.inNested ? widthUnits(width, conv.inChannels) : conv.inChannels, cout: widthUnits(width, conv.outChannels) };
}

/** A stored block: the region `[start, start + dims)` of checkpoint tensor `source` (OIHW for conv weights). */
export interface CnnBlock {
  name: string;
  source: string;
  start: number[];
  dims: number[];
}

function block(source: string, full: number[], ranges: [number, number][]): CnnBlock {
  return { name: sliceName(source, ranges, full), source, start: ranges.map((r) => r[0]), dims: ranges.map(([a, b]) => b - a) };
}

/** Channel counts per width level for a full channel count (nested, ascending, may repeat). */
function levelUnits(widths: number[], full: number): number[] {
  return widths.map((w) => widthUnits(w, full));
}

/** The weight blocks of `conv` added at width level j, in OIHW coordinates; empty ones are left out. */
export function convLevelBlocks(conv: CnnConv, widths: number[], j: number): { col?: CnnBlock; row?: CnnBlock } {
  const k = conv.kernel;
  const full = [conv.outChannels, conv.inChannels, k, k];
  const outs = levelUnits(widths, conv.outChannels);
  const ins = conv.inNested ? levelUnits(widths, conv.inChannels) : widths.map(() => conv.inChannels);
  const o0 = j === 0 ? 0 : outs[j - 1]!;
  const i0 = j === 0 ? 0 : ins[j - 1]!;
  const o1 = outs[j]!;
  const i1 = ins[j]!;
  const source = `${conv.name}.weight`;
  const col = o1 > o0 ? block(source, full, [[o0, o1], [0, i1], [0, k], [0, k]]) : undefined;
  const row = conv.inNested && j > 0 && i1 > i0 && o0 > 0 ? block(source, full, [[0, o0], [i0, i1], [0, k], [0, k]]) : undefined;
  return { col, row };
}

/** Segment of a per-channel vector (BN weight or bias) added at width level j. */
function vectorLevelBlock(source: string, full: number, widths: number[], j: number): CnnBlock | undefined {
  const units = levelUnits(widths, full);
  const lo = j === 0 ? 0 : units[j - 1]!;
  const hi = units[j]!;
  return hi > lo ? block(source, [full], [[lo, hi]]) : undefined;
}

/** Rows of the head weight ([C_last, classes]) added at width level j. */
function headLevelBlock(config: CnnConfig, widths: number[], j: number): CnnBlock | undefined {
  const full = headChannels(config);
  const units = levelUnits(widths, full);
  const lo = j === 0 ? 0 : units[j - 1]!;
  const hi = units[j]!;
  return hi > lo ? block('head.weight', [full, config.classes], [[lo, hi], [0, config.classes]]) : undefined;
}

/** Stats tensors of one batch norm for a subnet: `${bn}.stats.${key}.mean` and `.var`, [cout]. */
function statsBlocks(conv: CnnConv, depth: number, width: number): [CnnBlock, CnnBlock] {
  const c = widthUnits(width, conv.outChannels);
  const key = bnStatsKey(conv, depth, width);
  return [block(`${conv.bn}.stats.${key}.mean`, [c], [[0, c]]), block(`${conv.bn}.stats.${key}.var`, [c], [[0, c]])];
}

function widthsOf(dims: Dims): number[] {
  return dims.width ?? [1];
}

function depthsOf(config: CnnConfig, dims: Dims): number[] {
  return dims.depth ?? [config.blocks];
}

/** Every stored block for the lattice `dims`, in canonical order (weights by layer and level, then statistics). */
export function cnnBlocks(config: CnnConfig, dims: Dims): CnnBlock[] {
  const widths = widthsOf(dims);
  const out: CnnBlock[] = [];
  const seen = new Set<string>();
  const add = (b: CnnBlock | undefined) => {
    if (b && !seen.has(b.name)) {
      seen.add(b.name);
      out.push(b);
    }
  };
  for (const conv of cnnConvs(config)) {
    widths.forEach((_, j) => {
      const { col, row } = convLevelBlocks(conv, widths, j);
      add(col);
      add(row);
      add(vectorLevelBlock(`${conv.bn}.weight`, conv.outChannels, widths, j));
      add(vectorLevelBlock(`${conv.bn}.bias`, conv.outChannels, widths, j));
    });
  }
  widths.forEach((_, j) => add(headLevelBlock(config, widths, j)));
  add(block('head.bias', [config.classes], [[0, config.classes]]));
  for (const d of depthsOf(config, dims)) {
    for (const w of widths) for (const conv of subnetConvs(config, d)) statsBlocks(conv, d, w).forEach(add);
  }
  return out;
}

export function cnnIo(config: CnnConfig): { inputs: IoEntry[]; outputs: IoEntry[] } {
  return {
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', config.inChannels, config.imageSize, config.imageSize] }],
    outputs: [{ name: 'logits', dtype: 'float32', dims: ['batch', config.classes] }],
  };
}

/**
 * Builders for the ops the CNN adds to runtime/graph.ts's table (opset 17 semantics).
 * Typed loosely here until `OpType` lists them; see docs/cnn.md.
 */
const cnnOps = {
  Conv: (x: string, w: string, y: string, kernel: number, stride: number, pad: number): GraphNode => node('Conv', [x, w], y, {
    kernel_shape: { kind: 'ints', value: [kernel, kernel] },
    strides: { kind: 'ints', value: [stride, stride] },
    pads: { kind: 'ints', value: [pad, pad, pad, pad] },
  }),
  BatchNormalization: (x: string, scale: string, bias: string, mean: string, variance: string, y: string): GraphNode =>
    node('BatchNormalization', [x, scale, bias, mean, variance], y, { epsilon: { kind: 'float', value: BN_EPSILON } }),
  GlobalAveragePool: (x: string, y: string): GraphNode => node('GlobalAveragePool', [x], y, {}),
  Flatten: (x: string, y: string): GraphNode => node('Flatten', [x], y, { axis: { kind: 'int', value: 1 } }),
};

function node(op: string, inputs: string[], y: string, attrs: GraphNode['attrs']): GraphNode {
  return { op, inputs, outputs: [y], attrs } as unknown as GraphNode;
}

function widthIndex(dims: Dims, width: number): number {
  const j = widthsOf(dims).indexOf(width);
  if (j < 0) throw new Error(`width ${width} is not a level of ${JSON.stringify(widthsOf(dims))}`);
  return j;
}

/**
 * The subnet's graph. Weights are Concat trees over stored blocks (`foldConcats` turns them
 * into plain initializers); batch norms read the subnet's statistics.
 */
export function cnnGraph(config: CnnConfig, dims: Dims, levels: Levels): GraphDef {
  const widths = widthsOf(dims);
  const { depth, width } = resolveCnnLevels(config, { depth: levels.depth ?? Math.max(...depthsOf(config, dims)), width: levels.width ?? widths[widths.length - 1]! });
  const j = widthIndex(dims, width);
  const { nodes, initializers, use, concat } = graphParts();
  const vector = (source: string, full: number): string => {
    const segs = widths.slice(0, j + 1).map((_, k) => vectorLevelBlock(source, full, widths, k)).filter((b) => b !== undefined).map(use);
    return concat(segs, 0, sliceName(source, [[0, widthUnits(width, full)]], [full]));
  };
  const weight = (conv: CnnConv): string => {
    const k = conv.kernel;
    const full = [conv.outChannels, conv.inChannels, k, k];
    const source = `${conv.name}.weight`;
    let w: string | undefined;
    let outs = 0;
    let ins = conv.inNested ? 0 : conv.inChannels;
    for (let l = 0; l <= j; l++) {
      const { col, row } = convLevelBlocks(conv, widths, l);
      const { cin, cout } = convChannels(conv, widths[l]!);
      if (row) w = concat([w!, use(row)], 1, sliceName(source, [[0, outs], [0, cin], [0, k], [0, k]], full));
      ins = cin;
      if (col) w = w === undefined ? use(col) : concat([w, use(col)], 0, sliceName(source, [[0, cout], [0, ins], [0, k], [0, k]], full));
      outs = cout;
    }
    return w!;
  };
  const convBn = (conv: CnnConv, x: string): string => {
    const y = `${conv.name}.out`;
    nodes.push(cnnOps.Conv(x, weight(conv), y, conv.kernel, conv.stride, conv.pad));
    const [mean, variance] = statsBlocks(conv, depth, width);
    const z = `${conv.bn}.out`;
    nodes.push(cnnOps.BatchNormalization(y, vector(`${conv.bn}.weight`, conv.outChannels), vector(`${conv.bn}.bias`, conv.outChannels), use(mean), use(variance), z));
    return z;
  };
  const convs = subnetConvs(config, depth);
  let h = 'input';
  for (const conv of convs) {
    if (conv.role === 'stem') {
      nodes.push(ops.Relu(convBn(conv, h), 'stem.relu'));
      h = 'stem.relu';
    } else if (conv.role === 'conv1') {
      const p = `stages.${conv.stage}.blocks.${conv.block}`;
      const a = `${p}.relu1`;
      nodes.push(ops.Relu(convBn(conv, h), a));
      const conv2 = convs.find((c) => c.stage === conv.stage && c.block === conv.block && c.role === 'conv2')!;
      const shortcut = convs.find((c) => c.stage === conv.stage && c.block === conv.block && c.role === 'shortcut');
      const main = convBn(conv2, a);
      const skip = shortcut ? convBn(shortcut, h) : h;
      nodes.push(ops.Add(main, skip, `${p}.add`), ops.Relu(`${p}.add`, `${p}.out`));
      h = `${p}.out`;
    }
  }
  nodes.push(cnnOps.GlobalAveragePool(h, 'pool'), cnnOps.Flatten('pool', 'features'));
  const cl = headChannels(config);
  const rows = widths.slice(0, j + 1).map((_, k) => headLevelBlock(config, widths, k)).filter((b) => b !== undefined).map(use);
  const head = concat(rows, 0, sliceName('head.weight', [[0, widthUnits(width, cl)], [0, config.classes]], [cl, config.classes]));
  nodes.push(ops.MatMul('features', head, 'head.matmul'), ops.Add('head.matmul', use(block('head.bias', [config.classes], [[0, config.classes]])), 'logits'));
  return { name: 'sortednet_cnn', ...cnnIo(config), nodes, initializers };
}

/** Multiply-accumulates per example: every conv and the head (batch norms, adds and pooling not counted). */
export function cnnMacs(config: CnnConfig, dims: Dims, levels: Levels): number {
  const widths = widthsOf(dims);
  const { depth, width } = resolveCnnLevels(config, { depth: levels.depth ?? Math.max(...depthsOf(config, dims)), width: levels.width ?? widths[widths.length - 1]! });
  let macs = 0;
  for (const conv of subnetConvs(config, depth)) {
    const { cin, cout } = convChannels(conv, width);
    macs += conv.outSize * conv.outSize * conv.kernel * conv.kernel * cin * cout;
  }
  return macs + widthUnits(width, headChannels(config)) * config.classes;
}

/** Rough peak activation bytes per example: the largest conv input and output plus a shortcut (float32). */
export function cnnActivationBytes(config: CnnConfig, dims: Dims, levels: Levels): number {
  const widths = widthsOf(dims);
  const { depth, width } = resolveCnnLevels(config, { depth: levels.depth ?? Math.max(...depthsOf(config, dims)), width: levels.width ?? widths[widths.length - 1]! });
  let peak = 0;
  for (const conv of subnetConvs(config, depth)) {
    const { cin, cout } = convChannels(conv, width);
    peak = Math.max(peak, 2 * conv.inSize * conv.inSize * cin + conv.outSize * conv.outSize * cout);
  }
  return 4 * peak;
}

const asCnn = (c: Record<string, number>): CnnConfig => c as unknown as CnnConfig;

/** The CNN's entry in GRAPHS (runtime/graphs/index.ts). */
export const CNN_GRAPHS: ArchGraphs = {
  configKeys: CNN_CONFIG_KEYS,
  dims: ['depth', 'width'],
  io: (c) => cnnIo(asCnn(c)),
  graph: (c, d, l) => cnnGraph(asCnn(c), d, l),
};
