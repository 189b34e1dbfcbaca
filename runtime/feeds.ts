/**
 * Check feeds against the manifest's inputs before they reach ORT, so a wrong name, type or
 * shape is a SortedNetError naming the input, not an ORT stack trace.
 *
 * @example
 * prepareFeeds(ort, manifest, { input: { data: new Float32Array(784), dims: [1, 784] } });
 * // { feeds: { input: ort.Tensor }, batch: 1 }
 */
import { didYouMean, raise } from './errors.js';
import type { DType, Manifest } from './manifest-types.js';
import type { OrtLike, OrtTensorLike } from './ort.js';

/**
 * An ORT tensor from the injected module, or plain data the runtime wraps in one
 * (Float32Array for float32 inputs, BigInt64Array for int64 inputs such as token ids).
 */
export type FeedValue = OrtTensorLike | { data: Float32Array | BigInt64Array; dims: readonly number[] };

// Their `.name` ('Float32Array', ...) is what error messages print.
const ARRAYS: Record<DType, Float32ArrayConstructor | BigInt64ArrayConstructor> = {
  float32: Float32Array,
  int64: BigInt64Array,
};

// Module-level, not per call: run() is on the hot path.
function fail(field: string, found: string, fix: string): never {
  raise('BAD_INPUT', '<api>', field, found, fix);
}

function shape(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}

export function prepareFeeds(ort: OrtLike, manifest: Manifest, feeds: Record<string, FeedValue>): { feeds: Record<string, OrtTensorLike>; batch: number } {
  const inputs = manifest.inputs;
  if (typeof feeds !== 'object' || feeds === null) fail('run() feeds', String(feeds), `pass { ${inputs.map((i) => i.name).join(', ')} }`);
  for (const k in feeds) {
    let known = false;
    for (const i of inputs) known ||= i.name === k; // no closure per call: run() is on the hot path
    if (!known) {
      const names = inputs.map((i) => i.name);
      const guess = didYouMean(k, names);
      fail(`feeds.${k}`, `unknown input "${k}"`, guess ? `did you mean "${guess}"?` : `the model's inputs are ${names.join(', ')}`);
    }
  }
  const out: Record<string, OrtTensorLike> = {};
  const symbols: Record<string, number> = {};
  let batch: number | undefined;
  for (const io of inputs) {
    const v = feeds[io.name];
    if (!v || typeof v !== 'object' || !Array.isArray(v.dims)) return fail(`feeds.${io.name}`, v === undefined ? 'missing' : 'not a tensor', `pass a ${io.dtype} tensor of shape ${shape(io.dims)}`);
    const dims = v.dims;
    if (dims.length !== io.dims.length) fail(`feeds.${io.name}.dims`, shape(dims), `use shape ${shape(io.dims)}`);
    let n = 1;
    for (let i = 0; i < dims.length; i++) {
      const d = io.dims[i]!;
      const seen = typeof d === 'string' ? symbols[d] : d;
      if (seen !== undefined && dims[i] !== seen) fail(`feeds.${io.name}.dims`, shape(dims), `use shape ${shape(io.dims)}${typeof d === 'string' ? ` with ${d} = ${seen}` : ''}`);
      if (typeof d === 'string') {
        symbols[d] = dims[i]!;
        batch ??= dims[i];
      }
      n *= dims[i]!;
    }
    if ('type' in v) {
      if (v.type !== io.dtype) fail(`feeds.${io.name}.type`, `"${v.type}"`, `pass a ${io.dtype} tensor`);
      out[io.name] = v;
    } else {
      const ctor = ARRAYS[io.dtype];
      const name = ctor.name;
      if (!(v.data instanceof ctor) || v.data.length !== n) fail(`feeds.${io.name}.data`, v.data instanceof ctor ? `${v.data.length} values` : `not a ${name}`, `pass a ${name} of ${n} values for dims ${shape(dims)}`);
      out[io.name] = new ort.Tensor(io.dtype, v.data, dims);
    }
  }
  return { feeds: out, batch: batch ?? 1 };
}

/** Zero-filled feeds for calibration: the first symbolic dim is `batch`, other symbolic dims 1. */
export function zeroFeeds(ort: OrtLike, manifest: Manifest, batch: number): Record<string, OrtTensorLike> {
  const out: Record<string, OrtTensorLike> = {};
  for (const io of manifest.inputs) {
    const first = io.dims.findIndex((d) => typeof d === 'string');
    const dims = io.dims.map((d, i) => (typeof d === 'number' ? d : i === first ? batch : 1));
    out[io.name] = new ort.Tensor(io.dtype, new ARRAYS[io.dtype](dims.reduce((a, b) => a * b, 1)), dims);
  }
  return out;
}
