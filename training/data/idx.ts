/**
 * IDX files (the MNIST family's format), optionally gzip-compressed: a 4-byte magic
 * `00 00 <dtype> <ndim>`, ndim big-endian uint32 sizes, then the values. Only unsigned
 * bytes (dtype 0x08) are supported, which is what (Fashion-)MNIST uses.
 *
 * @example
 * const t = parseIdx(await readFile('train-labels-idx1-ubyte.gz'), 'train-labels-idx1-ubyte.gz');
 * t.dims; // [60000]
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { SortedNetError } from '../../runtime/errors.js';

export interface IdxTensor {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/** Parse IDX bytes (gzip detected by its magic). Every failure is a BAD_DATA SortedNetError naming file and field. */
export function parseIdx(bytes: Uint8Array, file: string): IdxTensor {
  const fix = 'the file is truncated or not IDX; download Fashion-MNIST again or pass --data DIR with the four *-ubyte.gz files';
  const fail = (field: string, found: string, fixText = fix): never => {
    throw new SortedNetError({ code: 'BAD_DATA', file, field, found, fix: fixText });
  };
  let raw = bytes;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      raw = gunzipSync(bytes);
    } catch (err) {
      return fail('gzip', `a gzip stream that does not inflate (${(err as Error).message})`);
    }
  }
  if (raw.length < 4) fail('magic', `only ${raw.length} bytes`);
  if (raw[0] !== 0 || raw[1] !== 0) fail('magic', `0x${Buffer.from(raw.subarray(0, 4)).toString('hex')} (expected 0x0000080N)`);
  if (raw[2] !== UBYTE) fail('magic.dtype', `0x${raw[2]!.toString(16).padStart(2, '0')}`, 'only unsigned-byte IDX (dtype 0x08) is supported');
  const ndim = raw[3]!;
  if (ndim < 1 || ndim > 4) fail('magic.ndim', String(ndim));
  if (raw.length < 4 + 4 * ndim) fail('dims', `header cut off after ${raw.length} bytes`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * ndim;
  if (raw.length - start !== count) fail('data', `${raw.length - start} bytes for dims ${JSON.stringify(dims)} (${count} expected)`);
  return { dims, data: raw.subarray(start, start + count) };
}

/** Encode unsigned bytes as gzip-compressed IDX. */
export function encodeIdx(t: IdxTensor): Uint8Array {
  const header = new Uint8Array(4 + 4 * t.dims.length);
  header[2] = UBYTE;
  header[3] = t.dims.length;
  const view = new DataView(header.buffer);
  t.dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const raw = new Uint8Array(header.length + t.data.length);
  raw.set(header);
  raw.set(t.data, header.length);
  return gzipSync(raw, { level: 9 });
}
