/**
 * Sorted GPT: a decoder-only transformer (pre-norm LayerNorm, causal multi-head
 * self-attention, exact-GELU feed-forward, learned positions, LM head tied to the token
 * embedding) whose subnets nest along three dims, as in Sorted LLaMA:
 * - `depth`: the first d blocks, then the ONE final LayerNorm and the ONE LM head, shared by all depths;
 * - `heads`: the first h heads of every block: q/k/v weight columns [:h*dh] and the
 *   output projection's rows [:h*dh] (dh = dModel / heads of the full model);
 * - `ffn`: the first u = max(1, round(f * ffnHidden)) feed-forward units of every block:
 *   up-projection columns [:u] and down-projection rows [:u].
 * dModel never shrinks, so embeddings, norms and the head are shared by every subnet.
 *
 * Checkpoint tensors (weights [in, out], y = x @ W + b): see docs/gpt.md.
 *
 * @example
 * const model = SortedGpt.init({ ...DEFAULT_GPT, vocabSize: 1024 }, new Rng(0));
 * const [logits] = model.forwardDepths(ids, 2, 16, { heads: 2, ffn: 0.5 }, [3]); // [32, 1024]
 * gptMacs(model.config, { depth: 3, heads: 2, ffn: 0.5 }); // MACs for one full-context sequence
 */
import * as tf from '@tensorflow/tfjs-core';
import { SortedNetError } from '../../runtime/errors.js';
import type { NamedTensor } from '../checkpoint.js';
import '../grads.js';
import { Rng } from '../rng.js';
import { widthUnits, type Levels } from '../spec.js';
import { dense } from './dense.js';
import { causalAttention, embed, gelu, layerNorm, matmul } from './gpt-ops.js';
import { gptMacs as graphMacs, gptParams as graphParams, type GptConfig } from '../../runtime/graphs/gpt.js';

export type { GptConfig };

/** A CPU-sized default: about 0.8 M parameters besides the embeddings. */
export const DEFAULT_GPT: Omit<GptConfig, 'vocabSize'> = { context: 64, dModel: 128, layers: 4, heads: 4, ffnHidden: 512 };

/** The resolved shape of one subnet. */
export interface GptSubnetShape {
  depth: number;
  heads: number;
  /** Feed-forward units kept per block. */
  ffnUnits: number;
}

function badLevels(field: string, found: string, fix: string): never {
  throw new SortedNetError({ code: 'UNKNOWN_SUBNET', file: '<api>', field: `levels.${field}`, found, fix });
}

/** Depth, heads and FFN units for `levels` (a missing dim means the full model). */
export function resolveGptLevels(config: GptConfig, levels: Levels): GptSubnetShape {
  const depth = levels.depth ?? config.layers;
  const heads = levels.heads ?? config.heads;
  const ffn = levels.ffn ?? 1;
  if (!Number.isInteger(depth) || depth < 1 || depth > config.layers) badLevels('depth', String(depth), `use a whole number from 1 to ${config.layers}`);
  if (!Number.isInteger(heads) || heads < 1 || heads > config.heads) badLevels('heads', String(heads), `use a whole number from 1 to ${config.heads}`);
  if (!(ffn > 0 && ffn <= 1)) badLevels('ffn', String(ffn), 'use a fraction in (0, 1]');
  for (const dim of Object.keys(levels)) if (dim === 'width') badLevels(dim, 'a dim the GPT does not nest', 'use depth, heads and ffn');
  return { depth, heads, ffnUnits: widthUnits(ffn, config.ffnHidden) };
}

/** The one-level dims of `levels`, so the runtime's level lookup resolves them. */
function dimsOf(config: GptConfig, levels: Levels): Partial<Record<'depth' | 'heads' | 'ffn', number[]>> {
  const { depth, heads } = resolveGptLevels(config, levels);
  return { depth: [depth], heads: [heads], ffn: [levels.ffn ?? 1] };
}

/** Parameters subnet `levels` uses: embeddings (the head is tied), its blocks' slices, final norm. */
export function gptParams(config: GptConfig, levels: Levels): number {
  return graphParams(config, dimsOf(config, levels), {});
}

/** MACs for one full-context sequence (see runtime/graphs/gpt.ts, the same number the manifest carries). */
export function gptMacs(config: GptConfig, levels: Levels): number {
  return graphMacs(config, dimsOf(config, levels), {});
}

/** Checkpoint tensor names of the full model, in a stable order. */
export function gptTensorNames(config: GptConfig): string[] {
  const names = ['tok_emb.weight', 'pos_emb.weight'];
  for (let i = 0; i < config.layers; i++) {
    const p = `layers.${i}`;
    names.push(`${p}.ln1.weight`, `${p}.ln1.bias`);
    for (const m of ['q', 'k', 'v', 'o']) names.push(`${p}.attn.${m}.weight`, `${p}.attn.${m}.bias`);
    names.push(`${p}.ln2.weight`, `${p}.ln2.bias`, `${p}.ffn.up.weight`, `${p}.ffn.up.bias`, `${p}.ffn.down.weight`, `${p}.ffn.down.bias`);
  }
  names.push('ln_f.weight', 'ln_f.bias');
  return names;
}

/** Expected shape of each checkpoint tensor. */
export function gptTensorShapes(config: GptConfig): Record<string, number[]> {
  const { vocabSize: v, context: c, dModel: d, ffnHidden: f } = config;
  const out: Record<string, number[]> = {};
  for (const name of gptTensorNames(config)) {
    const leaf = name.replace(/^layers\.\d+\./, '');
    out[name] =
      name === 'tok_emb.weight' ? [v, d]
      : name === 'pos_emb.weight' ? [c, d]
      : leaf === 'ffn.up.weight' ? [d, f]
      : leaf === 'ffn.up.bias' ? [f]
      : leaf === 'ffn.down.weight' ? [f, d]
      : name.endsWith('.weight') && name.includes('.attn.') ? [d, d]
      : [d];
  }
  return out;
}

/** GPT-2 style init: N(0, 0.02) weights, residual outputs (attn.o, ffn.down) scaled by 1/sqrt(2 * layers), zero biases, unit norms. */
export function initGptTensors(config: GptConfig, rng: Rng): Record<string, NamedTensor> {
  checkConfig(config);
  const normal = (): number => {
    const u = 1 - rng.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  };
  const out: Record<string, NamedTensor> = {};
  const residualStd = 0.02 / Math.sqrt(2 * config.layers);
  for (const [name, dims] of Object.entries(gptTensorShapes(config))) {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    if (name.endsWith('.bias')) {
      // zeros
    } else if (/(^|\.)ln(1|2|_f)\.weight$/.test(name)) {
      data.fill(1);
    } else {
      const std = /attn\.o\.weight$|ffn\.down\.weight$/.test(name) ? residualStd : 0.02;
      for (let i = 0; i < data.length; i++) data[i] = std * normal();
    }
    out[name] = { dims, data };
  }
  return out;
}

function checkConfig(config: GptConfig, file = '<api>'): void {
  const fail = (field: string, found: unknown, fix: string): never => {
    throw new SortedNetError({ code: 'BAD_OPTION', file, field: `config.${field}`, found: JSON.stringify(found), fix });
  };
  for (const k of ['vocabSize', 'context', 'dModel', 'layers', 'heads', 'ffnHidden'] as const) {
    if (!Number.isInteger(config[k]) || config[k] < 1) fail(k, config[k], 'use a whole number >= 1');
  }
  if (config.dModel % config.heads !== 0) fail('heads', config.heads, `use a divisor of dModel ${config.dModel}`);
}

/** Check that checkpoint tensors match the spec's config; throws BAD_CHECKPOINT naming the tensor. */
export function checkGptTensors(config: GptConfig, tensors: Record<string, NamedTensor>, file = '<api>'): void {
  checkConfig(config, file);
  for (const [name, dims] of Object.entries(gptTensorShapes(config))) {
    const t = tensors[name];
    if (!t) throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field: name, found: 'missing', fix: 'use a checkpoint written by `sortednet train --arch gpt` (tensors listed in docs/gpt.md)' });
    if (JSON.stringify(t.dims) !== JSON.stringify(dims)) {
      throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field: `${name}.shape`, found: `${JSON.stringify(t.dims)} (expected ${JSON.stringify(dims)} from sortednet.config)`, fix: 'make sortednet.config match the tensors' });
    }
  }
}

type V2 = tf.Variable<tf.Rank.R2>;
type V1 = tf.Variable<tf.Rank.R1>;

interface Block {
  ln1: { weight: V1; bias: V1 };
  attn: Record<'q' | 'k' | 'v' | 'o', { weight: V2; bias: V1 }>;
  ln2: { weight: V1; bias: V1 };
  up: { weight: V2; bias: V1 };
  down: { weight: V2; bias: V1 };
}

/** The trainable sorted GPT: tf variables plus the sliced forward pass. Call `dispose()` when done. */
export class SortedGpt {
  readonly config: GptConfig;
  private readonly vars: Map<string, tf.Variable>;
  private readonly blocks: Block[];

  private constructor(config: GptConfig, tensors: Record<string, NamedTensor>, trainable: boolean) {
    this.config = config;
    this.vars = new Map();
    tf.tidy(() => {
      for (const name of gptTensorNames(config)) {
        const t = tensors[name]!;
        this.vars.set(name, tf.variable(tf.tensor(t.data, t.dims), trainable, name));
      }
    });
    const v1 = (n: string) => this.vars.get(n) as V1;
    const v2 = (n: string) => this.vars.get(n) as V2;
    this.blocks = Array.from({ length: config.layers }, (_, i) => {
      const p = `layers.${i}`;
      const lin = (m: string) => ({ weight: v2(`${p}.${m}.weight`), bias: v1(`${p}.${m}.bias`) });
      return {
        ln1: { weight: v1(`${p}.ln1.weight`), bias: v1(`${p}.ln1.bias`) },
        attn: { q: lin('attn.q'), k: lin('attn.k'), v: lin('attn.v'), o: lin('attn.o') },
        ln2: { weight: v1(`${p}.ln2.weight`), bias: v1(`${p}.ln2.bias`) },
        up: lin('ffn.up'),
        down: lin('ffn.down'),
      };
    });
  }

  static init(config: GptConfig, rng: Rng): SortedGpt {
    return new SortedGpt(config, initGptTensors(config, rng), true);
  }

  static fromTensors(config: GptConfig, tensors: Record<string, NamedTensor>, opts: { trainable?: boolean; file?: string } = {}): SortedGpt {
    checkGptTensors(config, tensors, opts.file);
    return new SortedGpt(config, tensors, opts.trainable ?? false);
  }

  /** Blocks in the full model (the largest depth). */
  get depth(): number {
    return this.config.layers;
  }

  /** Every variable, in checkpoint-name order. */
  variables(): tf.Variable[] {
    return [...this.vars.values()];
  }

  /** Checkpoint tensor names, parallel to `variables()`. */
  names(): string[] {
    return [...this.vars.keys()];
  }

  /**
   * Logits [batch * seq, vocab] after each depth in `depths`, for one heads and ffn level,
   * in one pass: the final norm and head are applied after each requested block.
   * `ids` holds batch * seq token ids (row-major [batch, seq]), seq <= context.
   */
  forwardDepths(ids: tf.Tensor1D, batch: number, seq: number, levels: Omit<Levels, 'depth'>, depths: number[]): tf.Tensor2D[] {
    const { heads, ffnUnits } = resolveGptLevels(this.config, { ...levels, depth: 1 });
    for (const d of depths) resolveGptLevels(this.config, { depth: d });
    if (!Number.isInteger(seq) || seq > this.config.context || seq < 1) {
      throw new SortedNetError({ code: 'BAD_INPUT', file: '<api>', field: 'seq', found: String(seq), fix: `use 1 to ${this.config.context} tokens (the context)` });
    }
    const { dModel: d, heads: fullHeads, ffnHidden } = this.config;
    const a = heads * (d / fullHeads);
    const cols = (w: tf.Tensor2D, n: number) => (n === w.shape[1] ? w : tf.slice(w, [0, 0], [w.shape[0], n]));
    const rows = (w: tf.Tensor2D, n: number) => (n === w.shape[0] ? w : tf.slice(w, [0, 0], [n, w.shape[1]]));
    const vec = (b: tf.Tensor1D, n: number) => (n === b.shape[0] ? b : tf.slice(b, [0], [n]));

    const tok = this.vars.get('tok_emb.weight') as V2;
    const headW = tf.transpose(tok); // tied head
    const lnf = { weight: this.vars.get('ln_f.weight') as V1, bias: this.vars.get('ln_f.bias') as V1 };
    let x = embed(ids, batch, seq, tok, this.vars.get('pos_emb.weight') as V2);
    const out = new Map<number, tf.Tensor2D>();
    const maxDepth = Math.max(...depths);
    for (let i = 0; i < maxDepth; i++) {
      const b = this.blocks[i]!;
      const h = layerNorm(x, b.ln1.weight, b.ln1.bias);
      const proj = (m: 'q' | 'k' | 'v') => dense(h, cols(b.attn[m].weight, a), vec(b.attn[m].bias, a), 'linear');
      const att = causalAttention(proj('q'), proj('k'), proj('v'), batch, seq, heads);
      x = tf.add(x, dense(att, rows(b.attn.o.weight, a), b.attn.o.bias, 'linear'));
      const h2 = layerNorm(x, b.ln2.weight, b.ln2.bias);
      const u = ffnUnits === ffnHidden ? null : ffnUnits;
      const upW = u === null ? b.up.weight : cols(b.up.weight, u);
      const upB = u === null ? b.up.bias : vec(b.up.bias, u);
      const hidden = gelu(dense(h2, upW, upB, 'linear'));
      x = tf.add(x, dense(hidden, u === null ? b.down.weight : rows(b.down.weight, u), b.down.bias, 'linear'));
      if (depths.includes(i + 1)) out.set(i + 1, matmul(layerNorm(x, lnf.weight, lnf.bias), headW));
    }
    return depths.map((dd) => out.get(dd)!);
  }

  /** Logits [batch * seq, vocab] of subnet `levels`. */
  forward(ids: tf.Tensor1D, batch: number, seq: number, levels: Levels): tf.Tensor2D {
    const { depth } = resolveGptLevels(this.config, levels);
    const { depth: _drop, ...rest } = levels;
    return this.forwardDepths(ids, batch, seq, rest, [depth])[0]!;
  }

  /** Current weights as checkpoint tensors (copies). */
  toTensors(): Record<string, NamedTensor> {
    const out: Record<string, NamedTensor> = {};
    for (const [name, v] of this.vars) out[name] = { dims: [...v.shape], data: v.dataSync() as Float32Array };
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
  }
}

/**
 * Pure forward pass of one subnet with tfjs: logits [batch * seq * vocab] (row-major
 * [batch, seq, vocab]) for token ids [batch * seq]. Leaves no tensors behind.
 */
export function gptForwardSubnet(model: SortedGpt, levels: Levels, ids: Int32Array, batch: number, seq: number): Float32Array {
  if (ids.length !== batch * seq) throw new SortedNetError({ code: 'BAD_INPUT', file: '<api>', field: 'ids', found: `${ids.length} ids for batch ${batch} x seq ${seq}`, fix: 'pass batch * seq token ids, row-major' });
  return tf.tidy(() => model.forward(tf.tensor1d(ids, 'int32'), batch, seq, levels).dataSync() as Float32Array);
}
