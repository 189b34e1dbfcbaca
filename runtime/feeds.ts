/**
 * Check feeds against the manifest's inputs before they reach ORT, so a wrong name or shape is
 * a SortedNetError naming the input, not an ORT stack trace.
 *
 * @example
 * prepareFeeds(ort, manifest, { input: { data: new Float32Array(784), dims: [1, 784] } });
 * // { feeds: { input: ort.Tensor }, batch: 1 }
 */
import { didYouMean, SortedNetError } from './errors.js';
import type { Manifest } from './manifest-types.js';
import type { OrtLike, OrtTensorLike } from './ort.js';

/** An ORT tensor from the injected module, or plain data the runtime wraps in one. */
export type FeedValue = OrtTensorLike | { data: Float32Array; dims: readonly number[] };

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
      if (!(v.data instanceof Float32Array) || v.data.length !== n) fail(`feeds.${io.name}.data`, v.data instanceof Float32Array ? `${v.data.length} values` : 'not a Float32Array', `pass a Float32Array of ${n} values for dims [${dims.join(', ')}]`);
      out[io.name] = new ort.Tensor('float32', v.data, dims);
    }
  }
  const batch = symbols.values().next().value ?? 1;
  return { feeds: out, batch };
}

/** Zero-filled feeds with every symbolic dim set to `batch` (for calibration). */
export function zeroFeeds(ort: OrtLike, manifest: Manifest, batch: number): Record<string, OrtTensorLike> {
  const out: Record<string, OrtTensorLike> = {};
  for (const io of manifest.inputs) {
    const dims = io.dims.map((d) => (typeof d === 'number' ? d : batch));
    out[io.name] = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
  }
  return out;
}
