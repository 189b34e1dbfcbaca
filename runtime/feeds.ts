/**
 * Check feeds against the manifest's inputs before they reach ORT, so a wrong name, type or
 * shape is a SortedNetError naming the input, not an ORT stack trace.
 *
 * @example
 * prepareFeeds(ort, manifest, { input: { data: new Float32Array(784), dims: [1, 784] } });
 * // { feeds: { input: ort.Tensor }, batch: 1 }
 */
import { didYouMean, SortedNetError } from './errors.js';
import type { DType, Manifest } from './manifest-types.js';
import type { OrtLike, OrtTensorLike } from './ort.js';

/**
 * An ORT tensor from the injected module, or plain data the runtime wraps in one
 * (Float32Array for float32 inputs, BigInt64Array for int64 inputs such as token ids).
 */
export type FeedValue = OrtTensorLike | { data: Float32Array | BigInt64Array; dims: readonly number[] };

const ARRAYS: Record<DType, { ctor: Float32ArrayConstructor | BigInt64ArrayConstructor; name: string }> = {
  float32: { ctor: Float32Array, name: 'Float32Array' },
  int64: { ctor: BigInt64Array, name: 'BigInt64Array' },
};

export function prepareFeeds(ort: OrtLike, manifest: Manifest, feeds: Record<string, FeedValue>): { feeds: Record<string, OrtTensorLike>; batch: number } {
  const fail = (field: string, found: string, fix: string): never => {
    throw new SortedNetError({ code: 'BAD_INPUT', file: '<api>', field, found, fix });
  };
  if (typeof feeds !== 'object' || feeds === null) fail('run() feeds', String(feeds), `pass { ${manifest.inputs.map((i) => i.name).join(', ')} }`);
  const names = manifest.inputs.map((i) => i.name);
  for (const k of Object.keys(feeds)) {
    if (!names.includes(k)) {
      const guess = didYouMean(k, names);
      fail(`feeds.${k}`, `unknown input "${k}"`, guess ? `did you mean "${guess}"?` : `the model's inputs are ${names.join(', ')}`);
    }
  }
  const out: Record<string, OrtTensorLike> = {};
  const symbols = new Map<string, number>();
  for (const io of manifest.inputs) {
    const v = feeds[io.name];
    const shape = `[${io.dims.join(', ')}]`;
    if (!v || typeof v !== 'object' || !Array.isArray(v.dims)) return fail(`feeds.${io.name}`, v === undefined ? 'missing' : 'not a tensor', `pass a ${io.dtype} tensor of shape ${shape}`);
    const dims = v.dims;
    if (dims.length !== io.dims.length) fail(`feeds.${io.name}.dims`, `[${dims.join(', ')}]`, `use shape ${shape}`);
    io.dims.forEach((d, i) => {
      if (typeof d === 'number' ? dims[i] !== d : symbols.has(d) && symbols.get(d) !== dims[i]) fail(`feeds.${io.name}.dims`, `[${dims.join(', ')}]`, `use shape ${shape}${typeof d === 'string' && symbols.has(d) ? ` with ${d} = ${symbols.get(d)}` : ''}`);
      if (typeof d === 'string') symbols.set(d, dims[i]!);
    });
    const n = dims.reduce((a, b) => a * b, 1);
    if ('type' in v) {
      if (v.type !== io.dtype) fail(`feeds.${io.name}.type`, `"${v.type}"`, `pass a ${io.dtype} tensor`);
      out[io.name] = v;
    } else {
      const { ctor, name } = ARRAYS[io.dtype];
      if (!(v.data instanceof ctor) || v.data.length !== n) fail(`feeds.${io.name}.data`, v.data instanceof ctor ? `${v.data.length} values` : `not a ${name}`, `pass a ${name} of ${n} values for dims [${dims.join(', ')}]`);
      out[io.name] = new ort.Tensor(io.dtype, v.data, dims);
    }
  }
  const batch = symbols.values().next().value ?? 1;
  return { feeds: out, batch };
}

/** Zero-filled feeds for calibration: the first symbolic dim is `batch`, other symbolic dims 1. */
export function zeroFeeds(ort: OrtLike, manifest: Manifest, batch: number): Record<string, OrtTensorLike> {
  const out: Record<string, OrtTensorLike> = {};
  for (const io of manifest.inputs) {
    const first = io.dims.findIndex((d) => typeof d === 'string');
    const dims = io.dims.map((d, i) => (typeof d === 'number' ? d : i === first ? batch : 1));
    out[io.name] = new ort.Tensor(io.dtype, new ARRAYS[io.dtype].ctor(dims.reduce((a, b) => a * b, 1)), dims);
  }
  return out;
}
