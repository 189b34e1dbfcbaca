/**
 * Sorted CNN exporter: checks the checkpoint against the spec, transposes conv weights from
 * the checkpoint's HWIO ([kh, kw, in, out], tfjs) to ONNX's OIHW, and cuts them into the
 * per-level blocks laid out by runtime/graphs/cnn.ts, so every weight is stored once.
 * Batch-norm statistics are stored per key (`w50`, `d2-w50`), one small tensor each.
 *
 * @example
 * const plan = cnnExporter.plan(ckpt, 'model.safetensors');
 * [...plan.tensors.keys()][0]; // 'stem.conv.weight[:4,:,:,:]'
 */
import { rejectUnknownKeys, SortedNetError } from '../../runtime/errors.js';
import { CNN_CONFIG_KEYS, cnnActivationBytes, cnnBlocks, cnnConvs, cnnMacs, headChannels, stageChannels, widthUnits, type CnnConfig } from '../../runtime/graphs/cnn.js';
import type { Checkpoint, NamedTensor } from '../../training/checkpoint.js';
import type { ExportPlan, ExportTensor, Exporter } from './index.js';

const retrain = 're-run `sortednet train --arch cnn`, or fix the checkpoint as described in docs/cnn.md';

/** Permute a row-major tensor's axes: out.dims[i] = t.dims[perm[i]]. */
export function transposeTensor(t: NamedTensor, perm: number[]): NamedTensor {
  const dims = perm.map((p) => t.dims[p]!);
  const inStrides = strides(t.dims);
  const data = new Float32Array(t.data.length);
  const idx = new Array<number>(dims.length).fill(0);
  const permStrides = perm.map((p) => inStrides[p]!);
  for (let o = 0; o < data.length; o++) {
    let from = 0;
    for (let a = 0; a < idx.length; a++) from += idx[a]! * permStrides[a]!;
    data[o] = t.data[from]!;
    for (let a = idx.length - 1; a >= 0; a--) {
      if (++idx[a]! < dims[a]!) break;
      idx[a] = 0;
    }
  }
  return { dims, data };
}

function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

/** Copy the region `[start, start + dims)` of a row-major tensor of any rank. */
export function cutRegionNd(t: NamedTensor, start: number[], dims: number[]): Float32Array {
  const out = new Float32Array(dims.reduce((a, b) => a * b, 1));
  if (out.length === 0) return out;
  const st = strides(t.dims);
  const last = dims.length - 1;
  const run = dims[last]!;
  const idx = new Array<number>(last).fill(0);
  for (let o = 0; o < out.length; o += run) {
    let from = start[last]!;
    for (let a = 0; a < last; a++) from += (start[a]! + idx[a]!) * st[a]!;
    out.set(t.data.subarray(from, from + run), o);
    for (let a = last - 1; a >= 0; a--) {
      if (++idx[a]! < dims[a]!) break;
      idx[a] = 0;
    }
  }
  return out;
}

const asCnn = (c: Record<string, number>): CnnConfig => c as unknown as CnnConfig;

export const cnnExporter: Exporter = {
  arch: 'cnn',
  macs: (c, d, l) => cnnMacs(asCnn(c), d, l),
  activationBytes: (c, d, l) => cnnActivationBytes(asCnn(c), d, l),
  plan(ckpt: Checkpoint, file: string): ExportPlan {
    const fail = (field: string, found: string, fix: string): never => {
      throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field, found, fix });
    };
    const { spec } = ckpt;
    const raw = spec.config as Record<string, unknown>;
    if (typeof raw !== 'object' || raw === null) fail('sortednet.config', JSON.stringify(raw), `give { ${CNN_CONFIG_KEYS.join(', ')} }`);
    rejectUnknownKeys(raw, CNN_CONFIG_KEYS, 'BAD_CHECKPOINT', file, 'sortednet.config');
    for (const k of CNN_CONFIG_KEYS) {
      if (!Number.isSafeInteger(raw[k]) || (raw[k] as number) < 1) fail(`sortednet.config.${k}`, JSON.stringify(raw[k]), 'use a positive integer');
    }
    const config = raw as unknown as CnnConfig;
    rejectUnknownKeys(spec.dims, ['depth', 'width'], 'BAD_CHECKPOINT', file, 'sortednet.dims');
    const depths = spec.dims.depth ?? [config.blocks];
    if (!depths.every((d) => Number.isInteger(d) && d >= 1 && d <= config.blocks)) {
      fail('sortednet.dims.depth', JSON.stringify(depths), `depth levels are blocks per stage, whole numbers from 1 to ${config.blocks} (sortednet.config.blocks)`);
    }
    const widths = spec.dims.width ?? [1];
    if (!widths.every((w) => w > 0 && w <= 1)) fail('sortednet.dims.width', JSON.stringify(widths), 'width levels are fractions in (0, 1]');
    if (widths[widths.length - 1] !== 1) fail('sortednet.dims.width', JSON.stringify(widths), 'the last width level must be 1 (the full network)');
    const stages = Array.from({ length: config.stages }, (_, s) => stageChannels(config, s));
    for (let j = 1; j < widths.length; j++) {
      if (stages.every((c) => widthUnits(widths[j]!, c) === widthUnits(widths[j - 1]!, c))) {
        fail('sortednet.dims.width', `levels ${widths[j - 1]} and ${widths[j]} keep the same channels in every stage (${stages.map((c) => widthUnits(widths[j]!, c)).join('/')})`, 'use width levels that give distinct channel counts, or more channels');
      }
      if (Math.round(widths[j]! * 100) === Math.round(widths[j - 1]! * 100)) {
        fail('sortednet.dims.width', `levels ${widths[j - 1]} and ${widths[j]} share the statistics key w${Math.round(widths[j]! * 100)}`, 'use width levels at least 0.01 apart');
      }
    }
    const dims = { depth: [...depths], ...(spec.dims.width ? { width: [...spec.dims.width] } : {}) };

    // Weights: shapes from the config, conv weights transposed to OIHW once.
    const sources = new Map<string, NamedTensor>();
    const need = (name: string, shape: number[]): NamedTensor => {
      const t = ckpt.tensors[name];
      if (!t) return fail(name, 'missing', retrain);
      if (t.dims.join() !== shape.join()) fail(`${name}.shape`, `${JSON.stringify(t.dims)} (expected ${JSON.stringify(shape)} from sortednet.config)`, retrain);
      return t;
    };
    for (const conv of cnnConvs(config)) {
      const k = conv.kernel;
      sources.set(`${conv.name}.weight`, transposeTensor(need(`${conv.name}.weight`, [k, k, conv.inChannels, conv.outChannels]), [3, 2, 0, 1]));
      for (const p of ['weight', 'bias']) sources.set(`${conv.bn}.${p}`, need(`${conv.bn}.${p}`, [conv.outChannels]));
    }
    sources.set('head.weight', need('head.weight', [headChannels(config), config.classes]));
    sources.set('head.bias', need('head.bias', [config.classes]));

    const tensors = new Map<string, ExportTensor>();
    const used = new Set(sources.keys());
    for (const b of cnnBlocks(config, dims)) {
      let src = sources.get(b.source);
      if (!src) {
        // Batch-norm statistics: one whole tensor per key, written by calibration.
        const stat = ckpt.tensors[b.source];
        if (!stat) fail(b.source, 'missing', 'calibrate the batch-norm statistics of every subnet (training does this after the last epoch; see docs/cnn.md), then re-pack');
        else if (stat.dims.join() !== b.dims.join()) fail(`${b.source}.shape`, `${JSON.stringify(stat.dims)} (expected ${JSON.stringify(b.dims)})`, retrain);
        src = stat!;
        used.add(b.source);
      }
      tensors.set(b.name, { dims: b.dims, dtype: 'float32', data: cutRegionNd(src, b.start, b.dims) });
    }
    return { config: { ...config }, dims, tensors, ignored: Object.keys(ckpt.tensors).filter((n) => !used.has(n)).sort() };
  },
};
