/**
 * Strict manifest validation: unknown keys are rejected with a did-you-mean, and every failure
 * names its path, e.g. `sortednet.subnets[2].levels.width`.
 *
 * @example
 * validateManifest({ ...manifest, subnets: [{ ...s, levls: {} }] }, 'model.onnx');
 * // throws: model.onnx: sortednet.subnets[0].levls: unknown key "levls". Fix: did you mean "levels"?
 */
import { rejectUnknownKeys, SortedNetError } from './errors.js';
import { GRAPHS } from './graphs/index.js';
import { DTYPE_BYTES } from './graph.js';
import { ARCHS, DTYPES, MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest } from './manifest-types.js';

type Obj = Record<string, unknown>;
const repack = 're-pack the checkpoint with `sortednet-pack`';

/** Small checkers that name the failing path; closures so the minifier can shorten them. */
function checker(file: string) {
  const fail = (path: string, found: string, fix = repack): never => {
    throw new SortedNetError({ code: 'BAD_MANIFEST', file, field: `sortednet${path ? `.${path}` : ''}`, found, fix });
  };
  const obj = (v: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Obj => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `${JSON.stringify(v)}, not an object`);
    const o = v as Obj;
    rejectUnknownKeys(o, [...required, ...optional], { file, field: `sortednet${path ? `.${path}` : ''}`, code: 'BAD_MANIFEST' });
    for (const k of required) if (!(k in o)) fail(path ? `${path}.${k}` : k, 'missing');
    return o;
  };
  const arr = (v: unknown, path: string): unknown[] => (Array.isArray(v) ? v : fail(path, `${JSON.stringify(v)}, not a list`));
  const str = (v: unknown, path: string): string => (typeof v === 'string' && v !== '' ? v : fail(path, `${JSON.stringify(v)}, not a non-empty string`));
  const num = (v: unknown, path: string): number => (typeof v === 'number' && Number.isFinite(v) ? v : fail(path, `${JSON.stringify(v)}, not a finite number`));
  const int = (v: unknown, path: string, min = 0): number => (Number.isSafeInteger(v) && (v as number) >= min ? (v as number) : fail(path, `${JSON.stringify(v)}, not an integer >= ${min}`));
  const oneOf = <T extends string>(v: unknown, path: string, allowed: readonly T[]): T => (allowed.includes(v as T) ? (v as T) : fail(path, JSON.stringify(v), `use one of ${allowed.join(', ')}`));
  return { fail, obj, arr, str, num, int, oneOf };
}

/** Check a parsed manifest; returns it typed, or throws BAD_MANIFEST naming the path. */
export function validateManifest(json: unknown, file: string): Manifest {
  const { fail, obj, arr, str, num, int, oneOf } = checker(file);
  const m = obj(json, '', ['format', 'version', 'arch', 'config', 'dims', 'opset', 'inputs', 'outputs', 'tensors', 'subnets'], ['segments', 'data', 'producer']);
  if (m.format !== MANIFEST_FORMAT) fail('format', JSON.stringify(m.format), `expected "${MANIFEST_FORMAT}"; ${repack}`);
  if (m.version !== MANIFEST_VERSION) fail('version', JSON.stringify(m.version), `this runtime reads version ${MANIFEST_VERSION}; upgrade sortednet or re-pack with this version`);
  const arch = oneOf(m.arch, 'arch', ARCHS);
  const graphs = GRAPHS[arch] ?? fail('arch', `"${arch}", which this runtime build does not include`, `import 'sortednet/runtime/${arch}' before loading (browser entry), or upgrade sortednet`);
  const config = obj(m.config, 'config', graphs.configKeys);
  for (const k of graphs.configKeys) int(config[k], `config.${k}`, 1);
  const dims = obj(m.dims, 'dims', [], graphs.dims);
  for (const [dim, levels] of Object.entries(dims)) {
    const ls = arr(levels, `dims.${dim}`);
    if (ls.length === 0) fail(`dims.${dim}`, 'an empty list');
    ls.forEach((l, i) => {
      if (num(l, `dims.${dim}[${i}]`) <= 0) fail(`dims.${dim}[${i}]`, `${l}, not positive`);
      if (i > 0 && !((l as number) > (ls[i - 1] as number))) fail(`dims.${dim}`, `levels that do not ascend: ${JSON.stringify(ls)}`);
    });
  }
  int(m.opset, 'opset', 1);
  for (const key of ['inputs', 'outputs'] as const) {
    arr(m[key], key).forEach((v, i) => {
      const io = obj(v, `${key}[${i}]`, ['name', 'dtype', 'dims']);
      str(io.name, `${key}[${i}].name`);
      oneOf(io.dtype, `${key}[${i}].dtype`, DTYPES);
      arr(io.dims, `${key}[${i}].dims`).forEach((d, k) => typeof d === 'string' ? str(d, `${key}[${i}].dims[${k}]`) : int(d, `${key}[${i}].dims[${k}]`));
    });
  }
  let end = 0;
  const names = new Set<string>();
  arr(m.tensors, 'tensors').forEach((v, i) => {
    const p = `tensors[${i}]`;
    const t = obj(v, p, ['name', 'dims', 'dtype', 'offset', 'length']);
    const name = str(t.name, `${p}.name`);
    if (names.has(name)) fail(`${p}.name`, `"${name}" twice`);
    names.add(name);
    const n = arr(t.dims, `${p}.dims`).reduce<number>((a, d, k) => a * int(d, `${p}.dims[${k}]`), 1);
    const dtype = oneOf(t.dtype, `${p}.dtype`, DTYPES);
    const offset = int(t.offset, `${p}.offset`);
    const length = int(t.length, `${p}.length`);
    if (length !== n * DTYPE_BYTES[dtype]) fail(`${p}.length`, `${length} bytes for dims ${JSON.stringify(t.dims)} (${n * DTYPE_BYTES[dtype]} expected)`);
    if (offset < end) fail(`${p}.offset`, `${offset}, which overlaps the previous tensor (ends at ${end})`);
    end = offset + length;
  });
  const ids = new Set<string>();
  let prevBytes = 0;
  const subnets = arr(m.subnets, 'subnets');
  if (subnets.length === 0) fail('subnets', 'an empty list');
  subnets.forEach((v, i) => {
    const p = `subnets[${i}]`;
    const s = obj(v, p, ['id', 'levels', 'params', 'bytes', 'macs', 'activations', 'prefixBytes', 'metrics'], ['latencyMs']);
    const id = str(s.id, `${p}.id`);
    if (ids.has(id)) fail(`${p}.id`, `"${id}" twice`);
    ids.add(id);
    const levels = obj(s.levels, `${p}.levels`, [], Object.keys(dims));
    for (const [dim, l] of Object.entries(levels)) {
      if (!(dims[dim] as number[]).includes(l as number)) fail(`${p}.levels.${dim}`, JSON.stringify(l), `use a level from dims.${dim}: ${JSON.stringify(dims[dim])}`);
    }
    for (const k of ['params', 'bytes', 'macs', 'activations', 'prefixBytes']) int(s[k], `${p}.${k}`);
    if ((s.prefixBytes as number) > end) fail(`${p}.prefixBytes`, `${s.prefixBytes as number}, past the last tensor (ends at ${end})`);
    if ((s.bytes as number) < prevBytes) fail(`${p}.bytes`, `${s.bytes as number}, smaller than the subnet before it; subnets must be listed smallest first`);
    prevBytes = s.bytes as number;
    const metrics = obj(s.metrics, `${p}.metrics`, [], ['accuracy', 'loss', 'perplexity']);
    for (const [k, x] of Object.entries(metrics)) num(x, `${p}.metrics.${k}`);
    if (s.latencyMs !== undefined && num(s.latencyMs, `${p}.latencyMs`) < 0) fail(`${p}.latencyMs`, 'negative');
  });
  if (m.segments !== undefined) {
    let at = 0;
    const ends = arr(m.segments, 'segments').map((v, i) => {
      const seg = obj(v, `segments[${i}]`, ['end', 'sha256']);
      if (!/^[0-9a-f]{64}$/.test(seg.sha256 as string)) fail(`segments[${i}].sha256`, `${JSON.stringify(seg.sha256)}, not 64 lowercase hex digits`);
      return (at = int(seg.end, `segments[${i}].end`, at + 1));
    });
    if (at < end) fail('segments', `the last segment ends at ${at}, before the last tensor (ends at ${end})`);
    subnets.forEach((s, i) => ends.includes((s as Obj).prefixBytes as number) || fail(`subnets[${i}].prefixBytes`, 'not the end of a segment'));
  }
  if (m.data !== undefined) {
    const d = obj(m.data, 'data', ['name', 'source', 'train', 'test']);
    str(d.name, 'data.name');
    str(d.source, 'data.source');
    int(d.train, 'data.train');
    int(d.test, 'data.test');
  }
  if (m.producer !== undefined) str(m.producer, 'producer');
  return m as unknown as Manifest;
}
