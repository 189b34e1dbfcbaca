/**
 * Sorted MLP exporter: checks the checkpoint against the spec and cuts each weight into the
 * L-shaped blocks laid out by runtime/graphs/mlp.ts, so every weight is stored once.
 *
 * @example
 * const plan = mlpExporter.plan(ckpt, 'model.safetensors');
 * [...plan.tensors.keys()].slice(0, 2); // ['layers.0.weight[:,:128]', 'layers.0.bias[:128]']
 */
import { rejectUnknownKeys, SortedNetError } from '../../runtime/errors.js';
import { MLP_CONFIG_KEYS, mlpActivationBytes, mlpBlocks, mlpMacs, mlpUnits, type MlpConfig } from '../../runtime/graphs/mlp.js';
import type { Checkpoint, NamedTensor } from '../../training/checkpoint.js';
import type { ExportPlan, ExportTensor, Exporter } from './index.js';

const retrain = 're-run `sortednet train`, or fix the checkpoint as described in docs/checkpoint.md';

/** Copy the region `[start, start + dims)` of a row-major tensor (1-D or 2-D). */
export function cutRegion(t: NamedTensor, start: number[], dims: number[]): Float32Array {
  if (dims.length === 1) return t.data.slice(start[0], start[0]! + dims[0]!);
  const [rows, cols] = dims as [number, number];
  const stride = t.dims[1]!;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const from = (start[0]! + r) * stride + start[1]!;
    out.set(t.data.subarray(from, from + cols), r * cols);
  }
  return out;
}

const asMlp = (c: Record<string, number>): MlpConfig => c as unknown as MlpConfig;

export const mlpExporter: Exporter = {
  arch: 'mlp',
  macs: (c, d, l) => mlpMacs(asMlp(c), d, l),
  activationBytes: (c, d, l) => mlpActivationBytes(asMlp(c), d, l),
  plan(ckpt: Checkpoint, file: string): ExportPlan {
    const fail = (field: string, found: string, fix: string): never => {
      throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field, found, fix });
    };
    const { spec } = ckpt;
    const raw = spec.config as Record<string, unknown>;
    if (typeof raw !== 'object' || raw === null) fail('sortednet.config', JSON.stringify(raw), 'give { inputSize, hidden, classes }');
    rejectUnknownKeys(raw, MLP_CONFIG_KEYS, 'BAD_CHECKPOINT', file, 'sortednet.config');
    for (const k of MLP_CONFIG_KEYS) {
      if (!Number.isSafeInteger(raw[k]) || (raw[k] as number) < 1) fail(`sortednet.config.${k}`, JSON.stringify(raw[k]), 'use a positive integer');
    }
    const config = raw as unknown as MlpConfig;
    rejectUnknownKeys(spec.dims, ['depth', 'width'], 'BAD_CHECKPOINT', file, 'sortednet.dims');
    const depths = spec.dims.depth;
    if (!depths) return fail('sortednet.dims.depth', 'missing', 'list the depth levels, e.g. "depth": [1, 2, 3]');
    if (!depths.every((d) => Number.isInteger(d))) fail('sortednet.dims.depth', JSON.stringify(depths), 'depth levels are layer counts (integers)');
    const widths = spec.dims.width ?? [1];
    if (!widths.every((w) => w > 0 && w <= 1)) fail('sortednet.dims.width', JSON.stringify(widths), 'width levels are fractions in (0, 1]');
    if (widths[widths.length - 1] !== 1) fail('sortednet.dims.width', JSON.stringify(widths), 'the last width level must be 1 (the full network)');
    const units = mlpUnits(config, spec.dims);
    units.forEach((u, j) => {
      if (j > 0 && u <= units[j - 1]!) {
        fail('sortednet.dims.width', `levels ${widths[j - 1]} and ${widths[j]} both keep ${u} of ${config.hidden} units`, 'use width levels that give distinct unit counts');
      }
    });
    const depth = Math.max(...depths);
    const expected = new Map<string, number[]>();
    for (let i = 0; i < depth; i++) {
      expected.set(`layers.${i}.weight`, [i === 0 ? config.inputSize : config.hidden, config.hidden]);
      expected.set(`layers.${i}.bias`, [config.hidden]);
    }
    expected.set('head.weight', [config.hidden, config.classes]);
    expected.set('head.bias', [config.classes]);
    for (const [name, dims] of expected) {
      const t = ckpt.tensors[name];
      if (!t) fail(name, 'missing', `the checkpoint must hold ${[...expected.keys()].join(', ')}; ${retrain}`);
      else if (t.dims.join() !== dims.join()) fail(`${name}.shape`, `${JSON.stringify(t.dims)} (expected ${JSON.stringify(dims)} from sortednet.config)`, retrain);
    }
    const tensors = new Map<string, ExportTensor>();
    for (const b of mlpBlocks(config, spec.dims)) {
      tensors.set(b.name, { dims: b.dims, dtype: 'float32', data: cutRegion(ckpt.tensors[b.source]!, b.start, b.dims) });
    }
    const dims = { depth: [...depths], ...(spec.dims.width ? { width: [...spec.dims.width] } : {}) };
    return { config: { ...config }, dims, tensors, ignored: Object.keys(ckpt.tensors).filter((n) => !expected.has(n)).sort() };
  },
};
