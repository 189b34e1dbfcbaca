/**
 * Sorted GPT exporter: checks the checkpoint against the spec and cuts the head- and
 * FFN-nested weights into the per-level blocks laid out by runtime/graphs/gpt.ts, so every
 * weight is stored once. Embeddings, norms and the residual biases are stored whole.
 *
 * @example
 * const plan = gptExporter.plan(ckpt, 'lm.safetensors');
 * [...plan.tensors.keys()].slice(0, 2); // ['tok_emb.weight', 'pos_emb.weight']
 */
import { rejectUnknownKeys, SortedNetError } from '../../runtime/errors.js';
import { ffnLevels, GPT_CONFIG_KEYS, gptActivationBytes, gptBlocks, gptMacs, type GptConfig } from '../../runtime/graphs/gpt.js';
import type { Checkpoint } from '../../training/checkpoint.js';
import type { ExportPlan, ExportTensor, Exporter } from './index.js';
import { cutRegion } from './mlp.js';

const retrain = 're-run `sortednet train --arch gpt`, or fix the checkpoint as described in docs/gpt.md';

/** Checkpoint tensor shapes of the first `depth` blocks (weights [in, out]). */
function expectedShapes(config: GptConfig, depth: number): Map<string, number[]> {
  const { vocabSize: v, context: c, dModel: d, ffnHidden: f } = config;
  const out = new Map<string, number[]>([['tok_emb.weight', [v, d]], ['pos_emb.weight', [c, d]]]);
  for (let i = 0; i < depth; i++) {
    const p = `layers.${i}`;
    for (const n of ['ln1.weight', 'ln1.bias', 'ln2.weight', 'ln2.bias']) out.set(`${p}.${n}`, [d]);
    for (const m of ['q', 'k', 'v', 'o']) {
      out.set(`${p}.attn.${m}.weight`, [d, d]);
      out.set(`${p}.attn.${m}.bias`, [d]);
    }
    out.set(`${p}.ffn.up.weight`, [d, f]);
    out.set(`${p}.ffn.up.bias`, [f]);
    out.set(`${p}.ffn.down.weight`, [f, d]);
    out.set(`${p}.ffn.down.bias`, [d]);
  }
  out.set('ln_f.weight', [d]);
  out.set('ln_f.bias', [d]);
  return out;
}

const asGpt = (c: Record<string, number>): GptConfig => c as unknown as GptConfig;

export const gptExporter: Exporter = {
  arch: 'gpt',
  macs: (c, d, l) => gptMacs(asGpt(c), d, l),
  activationBytes: (c, d, l) => gptActivationBytes(asGpt(c), d, l),
  plan(ckpt: Checkpoint, file: string): ExportPlan {
    const fail = (field: string, found: string, fix: string): never => {
      throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field, found, fix });
    };
    const { spec } = ckpt;
    const raw = spec.config as Record<string, unknown>;
    if (typeof raw !== 'object' || raw === null) fail('sortednet.config', JSON.stringify(raw), `give { ${GPT_CONFIG_KEYS.join(', ')} }`);
    rejectUnknownKeys(raw, GPT_CONFIG_KEYS, 'BAD_CHECKPOINT', file, 'sortednet.config');
    for (const k of GPT_CONFIG_KEYS) {
      if (!Number.isSafeInteger(raw[k]) || (raw[k] as number) < 1) fail(`sortednet.config.${k}`, JSON.stringify(raw[k]), 'use a positive integer');
    }
    const config = raw as unknown as GptConfig;
    if (config.dModel % config.heads !== 0) fail('sortednet.config.heads', `${config.heads}, which does not divide dModel ${config.dModel}`, retrain);
    rejectUnknownKeys(spec.dims, ['depth', 'heads', 'ffn'], 'BAD_CHECKPOINT', file, 'sortednet.dims');
    const depths = spec.dims.depth ?? [config.layers];
    if (!depths.every((d) => Number.isInteger(d) && d <= config.layers)) fail('sortednet.dims.depth', JSON.stringify(depths), `depth levels are block counts from 1 to config.layers (${config.layers})`);
    const heads = spec.dims.heads ?? [config.heads];
    if (!heads.every((h) => Number.isInteger(h))) fail('sortednet.dims.heads', JSON.stringify(heads), 'heads levels are head counts (integers)');
    if (heads[heads.length - 1] !== config.heads) fail('sortednet.dims.heads', JSON.stringify(heads), `the last heads level must be config.heads (${config.heads}), the full model`);
    const ffn = spec.dims.ffn ?? [1];
    if (!ffn.every((f) => f > 0 && f <= 1)) fail('sortednet.dims.ffn', JSON.stringify(ffn), 'ffn levels are fractions in (0, 1]');
    if (ffn[ffn.length - 1] !== 1) fail('sortednet.dims.ffn', JSON.stringify(ffn), 'the last ffn level must be 1 (the full model)');
    const units = ffnLevels(config, spec.dims);
    units.forEach((u, j) => {
      if (j > 0 && u <= units[j - 1]!) fail('sortednet.dims.ffn', `levels ${ffn[j - 1]} and ${ffn[j]} both keep ${u} of ${config.ffnHidden} units`, 'use ffn levels that give distinct unit counts');
    });
    const expected = expectedShapes(config, Math.max(...depths));
    for (const [name, dims] of expected) {
      const t = ckpt.tensors[name];
      if (!t) fail(name, 'missing', `the checkpoint must hold the tensors listed in docs/gpt.md; ${retrain}`);
      else if (t.dims.join() !== dims.join()) fail(`${name}.shape`, `${JSON.stringify(t.dims)} (expected ${JSON.stringify(dims)} from sortednet.config)`, retrain);
    }
    const dims = {
      ...(spec.dims.depth ? { depth: [...depths] } : {}),
      ...(spec.dims.heads ? { heads: [...heads] } : {}),
      ...(spec.dims.ffn ? { ffn: [...ffn] } : {}),
    };
    const tensors = new Map<string, ExportTensor>();
    for (const b of gptBlocks(config, dims)) {
      tensors.set(b.name, { dims: b.dims, dtype: 'float32', data: cutRegion(ckpt.tensors[b.source]!, b.start, b.dims) });
    }
    const cfg: GptConfig = { vocabSize: config.vocabSize, context: config.context, dModel: config.dModel, layers: config.layers, heads: config.heads, ffnHidden: config.ffnHidden };
    return { config: { ...cfg }, dims, tensors, ignored: Object.keys(ckpt.tensors).filter((n) => !expected.has(n)).sort() };
  },
};
