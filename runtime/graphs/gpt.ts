/**
 * Sorted GPT graphs (decoder-only LM), shared by training (config, params, MACs), the
 * packager (blocks) and the runtime (subnet graphs).
 *
 * Nesting: `depth` keeps the first d blocks, then the one final LayerNorm and the tied LM
 * head; `heads` keeps the first h heads (q/k/v weight columns and bias entries [:h*dh], output
 * projection rows [:h*dh]); `ffn` keeps the first u = max(1, round(f * ffnHidden)) FFN units
 * (up-projection columns, bias entries [:u], down-projection rows [:u]). Each nested tensor is
 * stored as per-level blocks, e.g. for heads levels [2, 4] with dh = 32:
 * `layers.0.attn.q.weight[:,:64]` and `layers.0.attn.q.weight[:,64:128]`; a subnet's weight
 * is a Concat tree over its blocks (folded at load). Everything else is stored whole.
 *
 * The graph (ONNX opset 17): `input_ids` int64 [batch, seq] (seq <= context) to `logits`
 * float32 [batch, seq, vocab], the full sequence in one pass (no KV cache). LayerNormalization
 * (opset 17), exact GELU composed from Erf, the causal mask built from Range/Greater/Where.
 *
 * @example
 * const cfg = { vocabSize: 257, context: 16, dModel: 8, layers: 2, heads: 2, ffnHidden: 16 };
 * gptBlocks(cfg, { depth: [1, 2], heads: [1, 2] }).map((b) => b.name).slice(0, 4);
 * // ['tok_emb.weight', 'pos_emb.weight', 'ln_f.weight', 'ln_f.bias']
 * gptGraph(cfg, { depth: [1, 2], heads: [1, 2] }, { depth: 1, heads: 1 }).outputs[0].name; // 'logits'
 */
import { ops, sliceName, type AttrValue, type GraphDef, type GraphNode, graphParts } from '../graph.js';
import type { Dim, IoEntry, Levels } from '../manifest-types.js';

/** Sorted GPT config; every field a positive integer (the manifest's config contract). */
export interface GptConfig {
  /** Tokens in the vocabulary (the tokenizer's vocabSize). */
  vocabSize: number;
  /** Longest sequence; the positional table has this many rows. */
  context: number;
  /** Residual stream width; the same in every subnet. */
  dModel: number;
  /** Transformer blocks in the full model (the largest depth level). */
  layers: number;
  /** Attention heads in the full model; dModel divides by it. */
  heads: number;
  /** Feed-forward hidden units in the full model. */
  ffnHidden: number;
}

export const GPT_CONFIG_KEYS = ['vocabSize', 'context', 'dModel', 'layers', 'heads', 'ffnHidden'] as const;

/** LayerNorm epsilon in training and in the exported LayerNormalization nodes. */
export const GPT_LN_EPS = 1e-5;

type Dims = Partial<Record<Dim, number[]>>;

/** A stored block: the region `[start, start + dims)` of checkpoint tensor `source`. */
export interface GptBlock {
  name: string;
  source: string;
  start: number[];
  dims: number[];
}

/** Units kept at a fraction: round(fraction * full), at least 1 (as in training). */
export function ffnUnits(fraction: number, full: number): number {
  return Math.max(1, Math.round(fraction * full));
}

/** Head counts per heads level; `heads` absent means one level, all heads. */
export function headLevels(config: GptConfig, dims: Dims): number[] {
  return dims.heads ?? [config.heads];
}

/** FFN units per ffn level; `ffn` absent means one level, all units. */
export function ffnLevels(config: GptConfig, dims: Dims): number[] {
  return (dims.ffn ?? [1]).map((f) => ffnUnits(f, config.ffnHidden));
}

/** Depth, heads and FFN units of `levels` (a missing dim means its largest level). */
export function gptShape(config: GptConfig, dims: Dims, levels: Levels): { depth: number; heads: number; units: number; jh: number; jf: number } {
  const hs = headLevels(config, dims);
  const fs = dims.ffn ?? [1];
  const depth = levels.depth ?? Math.max(...(dims.depth ?? [config.layers]));
  const jh = levels.heads === undefined ? hs.length - 1 : hs.indexOf(levels.heads);
  const jf = levels.ffn === undefined ? fs.length - 1 : fs.indexOf(levels.ffn);
  if (jh < 0) throw new Error(`heads ${levels.heads} is not a level of ${JSON.stringify(hs)}`);
  if (jf < 0) throw new Error(`ffn ${levels.ffn} is not a level of ${JSON.stringify(fs)}`);
  return { depth, heads: hs[jh]!, units: ffnLevels(config, dims)[jf]!, jh, jf };
}

function block(source: string, full: number[], ranges: [number, number][]): GptBlock {
  return { name: sliceName(source, ranges, full), source, start: ranges.map((r) => r[0]), dims: ranges.map(([a, b]) => b - a) };
}

/** Blocks of layer i's heads level j: q/k/v column blocks and bias segments, then the o row block. */
function headBlocks(config: GptConfig, dims: Dims, i: number, j: number): { q: GptBlock[]; k: GptBlock[]; v: GptBlock[]; o: GptBlock } {
  const d = config.dModel;
  const dh = d / config.heads;
  const hs = headLevels(config, dims);
  const lo = j === 0 ? 0 : hs[j - 1]! * dh;
  const hi = hs[j]! * dh;
  const p = `layers.${i}.attn`;
  const qkv = (m: string) => [block(`${p}.${m}.weight`, [d, d], [[0, d], [lo, hi]]), block(`${p}.${m}.bias`, [d], [[lo, hi]])];
  return { q: qkv('q'), k: qkv('k'), v: qkv('v'), o: block(`${p}.o.weight`, [d, d], [[lo, hi], [0, d]]) };
}

/** Blocks of layer i's ffn level j: up column block and bias segment, down row block. */
function ffnBlocks(config: GptConfig, dims: Dims, i: number, j: number): { up: GptBlock; upBias: GptBlock; down: GptBlock } {
  const { dModel: d, ffnHidden: f } = config;
  const us = ffnLevels(config, dims);
  const lo = j === 0 ? 0 : us[j - 1]!;
  const hi = us[j]!;
  const p = `layers.${i}.ffn`;
  return { up: block(`${p}.up.weight`, [d, f], [[0, d], [lo, hi]]), upBias: block(`${p}.up.bias`, [f], [[lo, hi]]), down: block(`${p}.down.weight`, [f, d], [[lo, hi], [0, d]]) };
}

const whole = (name: string, dims: number[]): GptBlock => block(name, dims, dims.map((n) => [0, n] as [number, number]));

/** Every stored block, in canonical order: shared tensors, then layer by layer, level by level. */
export function gptBlocks(config: GptConfig, dims: Dims): GptBlock[] {
  const { vocabSize: v, context: c, dModel: d } = config;
  const out: GptBlock[] = [whole('tok_emb.weight', [v, d]), whole('pos_emb.weight', [c, d]), whole('ln_f.weight', [d]), whole('ln_f.bias', [d])];
  const depth = Math.max(...(dims.depth ?? [config.layers]));
  for (let i = 0; i < depth; i++) {
    const p = `layers.${i}`;
    for (const n of ['ln1.weight', 'ln1.bias', 'ln2.weight', 'ln2.bias', 'attn.o.bias', 'ffn.down.bias']) out.push(whole(`${p}.${n}`, [d]));
    headLevels(config, dims).forEach((_, j) => {
      const b = headBlocks(config, dims, i, j);
      out.push(...b.q, ...b.k, ...b.v, b.o);
    });
    ffnLevels(config, dims).forEach((_, j) => {
      const b = ffnBlocks(config, dims, i, j);
      out.push(b.up, b.upBias, b.down);
    });
  }
  return out;
}

export function gptIo(config: GptConfig): { inputs: IoEntry[]; outputs: IoEntry[] } {
  return {
    inputs: [{ name: 'input_ids', dtype: 'int64', dims: ['batch', 'seq'] }],
    outputs: [{ name: 'logits', dtype: 'float32', dims: ['batch', 'seq', config.vocabSize] }],
  };
}

/** Node with an op the shared `ops` table does not list yet (written by the same generic encoders). */
function node(op: string, inputs: string[], y: string, attrs: Record<string, AttrValue> = {}): GraphNode {
  return { op, inputs, outputs: [y], attrs } as unknown as GraphNode;
}

const int = (value: number): AttrValue => ({ kind: 'int', value });
const ints = (value: number[]): AttrValue => ({ kind: 'ints', value });
const float = (value: number): AttrValue => ({ kind: 'float', value });

/** ONNX node builders the GPT graph needs beyond MatMul, Add and Concat (opset 17 semantics). */
export const gptOps = {
  Gather: (data: string, indices: string, y: string) => node('Gather', [data, indices], y, { axis: int(0) }),
  Shape: (x: string, y: string, start: number, end: number) => node('Shape', [x], y, { start: int(start), end: int(end) }),
  Squeeze: (x: string, y: string) => node('Squeeze', [x], y),
  Unsqueeze: (x: string, axes: string, y: string) => node('Unsqueeze', [x, axes], y),
  Range: (start: string, limit: string, delta: string, y: string) => node('Range', [start, limit, delta], y),
  Greater: (a: string, b: string, y: string) => node('Greater', [a, b], y),
  Where: (cond: string, a: string, b: string, y: string) => node('Where', [cond, a, b], y),
  Slice: (x: string, starts: string, ends: string, axes: string, y: string) => node('Slice', [x, starts, ends, axes], y),
  Reshape: (x: string, shape: string, y: string) => node('Reshape', [x, shape], y),
  Transpose: (x: string, perm: number[], y: string) => node('Transpose', [x], y, { perm: ints(perm) }),
  Softmax: (x: string, axis: number, y: string) => node('Softmax', [x], y, { axis: int(axis) }),
  LayerNormalization: (x: string, scale: string, bias: string, y: string) => node('LayerNormalization', [x, scale, bias], y, { axis: int(2), epsilon: float(GPT_LN_EPS) }),
  Mul: (a: string, b: string, y: string) => node('Mul', [a, b], y),
  Erf: (x: string, y: string) => node('Erf', [x], y),
  /** A 1-D int64 constant. */
  ConstInts: (values: number[], y: string) => node('Constant', [], y, { value_ints: ints(values) }),
  /** A scalar int64 constant. */
  ConstInt: (value: number, y: string) => node('Constant', [], y, { value_int: int(value) }),
  /** A scalar float constant. */
  ConstFloat: (value: number, y: string) => node('Constant', [], y, { value_float: float(value) }),
};

/**
 * The subnet's graph. Weights are Concat trees over stored blocks (`foldConcats` turns them
 * into plain initializers).
 */
export function gptGraph(config: GptConfig, dims: Dims, levels: Levels): GraphDef {
  const { depth, heads, units, jh, jf } = gptShape(config, dims, levels);
  const { dModel: d } = config;
  const dh = d / config.heads;
  const a = heads * dh;
  const { nodes, initializers, use, concat } = graphParts();
  const O = gptOps;
  const add = (x: string, y: string, out: string): string => (nodes.push(ops.Add(x, y, out)), out);
  const mul = (x: string, y: string, out: string): string => (nodes.push(O.Mul(x, y, out)), out);
  const matmul = (x: string, w: string, out: string): string => (nodes.push(ops.MatMul(x, w, out)), out);

  // Constants, sequence length, causal mask (true above the diagonal), embeddings.
  nodes.push(
    O.ConstInts([0], 'const.axes0'), O.ConstInts([1], 'const.axes1'), O.ConstInt(0, 'const.zero'), O.ConstInt(1, 'const.one'),
    O.ConstFloat(1 / Math.sqrt(dh), 'const.scale'), O.ConstFloat(-1e9, 'const.masked'),
    O.ConstFloat(Math.SQRT1_2, 'const.inv_sqrt2'), O.ConstFloat(1, 'const.one_f'), O.ConstFloat(0.5, 'const.half'),
    O.ConstInts([0, 0, heads, dh], 'const.heads_shape'), O.ConstInts([0, 0, a], 'const.merge_shape'),
    O.Shape('input_ids', 'seq_len', 1, 2), O.Squeeze('seq_len', 'seq_len.scalar'),
    O.Range('const.zero', 'seq_len.scalar', 'const.one', 'positions'),
    O.Unsqueeze('positions', 'const.axes1', 'positions.rows'), O.Unsqueeze('positions', 'const.axes0', 'positions.cols'),
    O.Greater('positions.cols', 'positions.rows', 'causal_mask'),
    O.Gather(use(whole('tok_emb.weight', [config.vocabSize, d])), 'input_ids', 'tok_emb'),
    O.Slice(use(whole('pos_emb.weight', [config.context, d])), 'const.axes0', 'seq_len', 'const.axes0', 'pos_emb'),
  );
  let x = add('tok_emb', 'pos_emb', 'embed');

  for (let i = 0; i < depth; i++) {
    const p = `layers.${i}`;
    const vec = (n: string) => use(whole(`${p}.${n}`, [d]));
    nodes.push(O.LayerNormalization(x, vec('ln1.weight'), vec('ln1.bias'), `${p}.ln1`));
    const hb = headLevels(config, dims).slice(0, jh + 1).map((_, j) => headBlocks(config, dims, i, j));
    const proj = (m: 'q' | 'k' | 'v', perm: number[]): string => {
      const w = concat(hb.map((b) => use(b[m][0]!)), 1, sliceName(`${p}.attn.${m}.weight`, [[0, d], [0, a]], [d, d]));
      const bias = concat(hb.map((b) => use(b[m][1]!)), 0, sliceName(`${p}.attn.${m}.bias`, [[0, a]], [d]));
      add(matmul(`${p}.ln1`, w, `${p}.attn.${m}.matmul`), bias, `${p}.attn.${m}`);
      nodes.push(O.Reshape(`${p}.attn.${m}`, 'const.heads_shape', `${p}.attn.${m}.heads`), O.Transpose(`${p}.attn.${m}.heads`, perm, `${p}.attn.${m}.t`));
      return `${p}.attn.${m}.t`;
    };
    const q = proj('q', [0, 2, 1, 3]); // [B, h, T, dh]
    const k = proj('k', [0, 2, 3, 1]); // [B, h, dh, T]
    const v = proj('v', [0, 2, 1, 3]);
    mul(matmul(q, k, `${p}.attn.scores.raw`), 'const.scale', `${p}.attn.scores.scaled`);
    nodes.push(
      O.Where('causal_mask', 'const.masked', `${p}.attn.scores.scaled`, `${p}.attn.scores`),
      O.Softmax(`${p}.attn.scores`, 3, `${p}.attn.probs`),
    );
    matmul(`${p}.attn.probs`, v, `${p}.attn.ctx.heads`);
    nodes.push(O.Transpose(`${p}.attn.ctx.heads`, [0, 2, 1, 3], `${p}.attn.ctx.t`), O.Reshape(`${p}.attn.ctx.t`, 'const.merge_shape', `${p}.attn.ctx`));
    const wo = concat(hb.map((b) => use(b.o)), 0, sliceName(`${p}.attn.o.weight`, [[0, a], [0, d]], [d, d]));
    add(matmul(`${p}.attn.ctx`, wo, `${p}.attn.o.matmul`), vec('attn.o.bias'), `${p}.attn.out`);
    x = add(x, `${p}.attn.out`, `${p}.resid1`);

    nodes.push(O.LayerNormalization(x, vec('ln2.weight'), vec('ln2.bias'), `${p}.ln2`));
    const fb = ffnLevels(config, dims).slice(0, jf + 1).map((_, j) => ffnBlocks(config, dims, i, j));
    const f = config.ffnHidden;
    const up = concat(fb.map((b) => use(b.up)), 1, sliceName(`${p}.ffn.up.weight`, [[0, d], [0, units]], [d, f]));
    const upBias = concat(fb.map((b) => use(b.upBias)), 0, sliceName(`${p}.ffn.up.bias`, [[0, units]], [f]));
    const down = concat(fb.map((b) => use(b.down)), 0, sliceName(`${p}.ffn.down.weight`, [[0, units], [0, d]], [f, d]));
    const hUp = add(matmul(`${p}.ln2`, up, `${p}.ffn.up.matmul`), upBias, `${p}.ffn.up`);
    // GELU(x) = 0.5 x (1 + erf(x / sqrt 2))
    nodes.push(O.Erf(mul(hUp, 'const.inv_sqrt2', `${p}.ffn.gelu.scaled`), `${p}.ffn.gelu.erf`));
    const g = mul(mul(hUp, add(`${p}.ffn.gelu.erf`, 'const.one_f', `${p}.ffn.gelu.cdf2`), `${p}.ffn.gelu.x_cdf2`), 'const.half', `${p}.ffn.gelu`);
    add(matmul(g, down, `${p}.ffn.down.matmul`), vec('ffn.down.bias'), `${p}.ffn.out`);
    x = add(x, `${p}.ffn.out`, `${p}.resid2`);
  }
  nodes.push(
    O.LayerNormalization(x, use(whole('ln_f.weight', [d])), use(whole('ln_f.bias', [d])), 'ln_f'),
    O.Transpose('tok_emb.weight', [1, 0], 'head.weight'),
  );
  matmul('ln_f', 'head.weight', 'logits');
  return { name: 'sortednet_gpt', ...gptIo(config), nodes, initializers };
}

/**
 * Parameters of a subnet: embeddings, final norm, and per block its norms, attention
 * slices and FFN slices. The head is tied to the token embedding (counted once).
 */
export function gptParams(config: GptConfig, dims: Dims, levels: Levels): number {
  const { depth, heads, units: u } = gptShape(config, dims, levels);
  const d = config.dModel;
  const a = heads * (d / config.heads);
  const perBlock = 4 * d + 3 * (d * a + a) + a * d + d + d * u + u + u * d + d;
  return config.vocabSize * d + config.context * d + 2 * d + depth * perBlock;
}

/**
 * Multiply-accumulates for one example, a full-context sequence: per token the q/k/v/o and
 * FFN projections and the LM head, plus the attention scores and weighted sums
 * (2 * seq^2 * h * dh per block, as the graph computes them, mask included).
 */
export function gptMacs(config: GptConfig, dims: Dims, levels: Levels): number {
  const { depth, heads, units: u } = gptShape(config, dims, levels);
  const { dModel: d, context: t, vocabSize: v } = config;
  const a = heads * (d / config.heads);
  return t * (depth * (4 * d * a + 2 * d * u) + d * v) + depth * 2 * t * t * a;
}

/** Rough peak activation bytes per example (float32): residual, q/k/v, scores, FFN hidden, logits. */
export function gptActivationBytes(config: GptConfig, dims: Dims, levels: Levels): number {
  const { heads, units } = gptShape(config, dims, levels);
  const { dModel: d, context: t, vocabSize: v } = config;
  const a = heads * (d / config.heads);
  return 4 * t * (2 * d + 3 * a + heads * t + units + v);
}
