/**
 * Sorted checkpoints as safetensors: an 8-byte little-endian header length, a JSON header,
 * then raw little-endian tensors. The `sortednet` metadata key holds the SortedSpec JSON.
 * No TensorFlow.js import here: the packager reads checkpoints through this module.
 *
 * @example
 * await writeCheckpoint('model.safetensors', { spec, tensors: { 'head.weight': { dims: [512, 10], data } } });
 * const ckpt = await readCheckpoint('model.safetensors');
 * ckpt.tensors['head.weight'].dims; // [512, 10]
 */
import { promises as fs } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { SortedNetError } from '../runtime/errors.js';
import { ARCHS, DIMS, type SortedSpec } from './spec.js';

export interface NamedTensor {
  dims: number[];
  data: Float32Array;
}

export interface Checkpoint {
  spec: SortedSpec;
  tensors: Record<string, NamedTensor>;
  /** Extra `__metadata__` string entries (e.g. optimizer state pointers). */
  metadata?: Record<string, string>;
}

/** Serialize to safetensors bytes (float32 tensors, 8-byte aligned data section). */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  const names = Object.keys(ckpt.tensors).sort();
  const header: Record<string, unknown> = {
    __metadata__: { ...(ckpt.metadata ?? {}), sortednet: JSON.stringify(ckpt.spec) },
  };
  let offset = 0;
  for (const name of names) {
    const t = ckpt.tensors[name]!;
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`tensor ${name}: dims ${JSON.stringify(t.dims)} hold ${n} values, data has ${t.data.length}`);
    header[name] = { dtype: 'F32', shape: t.dims, data_offsets: [offset, offset + n * 4] };
    offset += n * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8); // align the data section
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = ckpt.tensors[name]!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Write atomically: a temp file in the same folder, then rename, so a crash never leaves a half file. */
export async function writeCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(ckpt));
}

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

export async function readCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (err) {
    throw new SortedNetError({ code: 'IO', file: path, field: '(file)', found: `cannot read: ${(err as Error).message}`, fix: 'check the path', cause: err });
  }
  return decodeCheckpoint(bytes, path);
}

/** Parse and validate safetensors bytes. Every failure is a SortedNetError naming file and field. */
export function decodeCheckpoint(bytes: Uint8Array, file = '<memory>'): Checkpoint {
  const fail = (field: string, found: string, fix: string): never => {
    throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field, found, fix });
  };
  const regen = 'the file is truncated or not a sortednet checkpoint; re-run `sortednet train` or copy the file again';
  if (bytes.length < 8) fail('header length', `only ${bytes.length} bytes`, regen);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > bytes.length - 8 || headerLen > 100_000_000) fail('header length', `${headerLen} bytes but the file has ${bytes.length - 8} after it`, regen);
  let header: any;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    return fail('header', 'JSON that does not parse', regen);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header', 'not a JSON object', regen);
  const meta = header.__metadata__;
  if (!meta || typeof meta.sortednet !== 'string') fail('__metadata__.sortednet', 'missing', 'pack a checkpoint written by `sortednet train`, or add the sortednet metadata described in docs/checkpoint.md');
  let spec: SortedSpec;
  try {
    spec = JSON.parse(meta.sortednet);
  } catch {
    return fail('__metadata__.sortednet', 'JSON that does not parse', regen);
  }
  validateSpec(spec, file);
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors: Record<string, NamedTensor> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') fail(`${name}.dtype`, `${JSON.stringify(e.dtype)}`, 'store tensors as F32 (float32)');
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`${name}.shape`, JSON.stringify(e.shape), 'shape must be a list of non-negative integers');
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o))) fail(`${name}.data_offsets`, JSON.stringify(offs), 'data_offsets must be [begin, end]');
    const [begin, end] = offs as [number, number];
    const dims = e.shape as number[];
    const n = dims.reduce((a, b) => a * b, 1);
    if (end - begin !== n * 4) fail(`${name}.data_offsets`, `${end - begin} bytes for shape ${JSON.stringify(dims)} (${n * 4} expected)`, regen);
    if (begin < 0 || end > dataLen) fail(`${name}.data_offsets`, `[${begin}, ${end}] past the end of the data (${dataLen} bytes)`, regen);
    // Copy so the tensor is aligned and independent of the file buffer.
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors[name] = { dims, data };
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta as Record<string, unknown>)) if (k !== 'sortednet' && typeof v === 'string') metadata[k] = v;
  return { spec, tensors, metadata };
}

/** Structural checks on the spec, with a path and fix for each failure. */
export function validateSpec(spec: SortedSpec, file: string): void {
  const fail = (field: string, found: string, fix: string): never => {
    throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field: `sortednet.${field}`, found, fix });
  };
  if (typeof spec !== 'object' || spec === null) fail('', 'not an object', 'see docs/checkpoint.md');
  if (spec.format !== 'sortednet-checkpoint') fail('format', JSON.stringify(spec.format), 'set "format": "sortednet-checkpoint"');
  if (spec.version !== 1) fail('version', JSON.stringify(spec.version), 'this sortednet reads version 1; upgrade sortednet');
  if (!ARCHS.includes(spec.arch)) fail('arch', JSON.stringify(spec.arch), `use one of ${ARCHS.join(', ')}`);
  if (typeof spec.dims !== 'object' || spec.dims === null) fail('dims', JSON.stringify(spec.dims), 'give levels per dim, e.g. {"depth":[1,2,3]}');
  for (const [dim, levels] of Object.entries(spec.dims)) {
    if (!DIMS.includes(dim as never)) fail(`dims.${dim}`, 'unknown dim', `use ${DIMS.join(', ')}`);
    if (!Array.isArray(levels) || levels.length === 0 || !levels.every((l) => typeof l === 'number' && l > 0)) fail(`dims.${dim}`, JSON.stringify(levels), 'levels must be a non-empty list of positive numbers');
    for (let i = 1; i < levels.length; i++) {
      if (!(levels[i]! > levels[i - 1]!)) fail(`dims.${dim}.levels`, `must ascend, got ${JSON.stringify(levels)}`, `re-run training with --${dim === 'depth' ? 'depths' : dim === 'width' ? 'widths' : dim} ${[...levels].sort((a, b) => a - b).join(',')}`);
    }
  }
  if (!Array.isArray(spec.subnets)) fail('subnets', JSON.stringify(spec.subnets), 'list the subnets with their metrics');
  spec.subnets.forEach((s, i) => {
    if (typeof s?.id !== 'string') fail(`subnets[${i}].id`, JSON.stringify(s?.id), 'each subnet needs a string id');
    if (typeof s.levels !== 'object' || s.levels === null) fail(`subnets[${i}].levels`, JSON.stringify(s.levels), 'give one level per dim');
  });
}
