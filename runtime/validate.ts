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

class Checker {
  constructor(readonly file: string) {}

  fail(path: string, found: string, fix = repack): never {
    throw new SortedNetError({ code: 'BAD_MANIFEST', file: this.file, field: `sortednet${path ? `.${path}` : ''}`, found, fix });
  }

  obj(v: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, `${JSON.stringify(v)}, not an object`);
    const o = v as Obj;
    rejectUnknownKeys(o, [...required, ...optional], { file: this.file, field: `sortednet${path ? `.${path}` : ''}`, code: 'BAD_MANIFEST' });
    for (const k of required) if (!(k in o)) this.fail(path ? `${path}.${k}` : k, 'missing');
    return o;
  }

  arr(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, `${JSON.stringify(v)}, not a list`);
    return v as unknown[];
  }

  str(v: unknown, path: string): string {
    if (typeof v !== 'string' || v === '') this.fail(path, `${JSON.stringify(v)}, not a non-empty string`);
    return v as string;
  }

  num(v: unknown, path: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(path, `${JSON.stringify(v)}, not a finite number`);
    return v as number;
  }

  int(v: unknown, path: string, min = 0): number {
    if (!Number.isSafeInteger(v) || (v as number) < min) this.fail(path, `${JSON.stringify(v)}, not an integer >= ${min}`);
    return v as number;
  }

  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
    if (!allowed.includes(v as T)) this.fail(path, JSON.stringify(v), `use one of ${allowed.join(', ')}`);
    return v as T;
  }
}

/** Check a parsed manifest; returns it typed, or throws BAD_MANIFEST naming the path. */
export function validateManifest(json: unknown, file: string): Manifest {
  const c = new Checker(file);
  const m = c.obj(json, '', ['format', 'version', 'arch', 'config', 'dims', 'opset', 'inputs', 'outputs', 'tensors', 'subnets'], ['segments', 'data', 'producer']);
  if (m.format !== MANIFEST_FORMAT) c.fail('format', JSON.stringify(m.format), `expected "${MANIFEST_FORMAT}"; ${repack}`);
  if (m.version !== MANIFEST_VERSION) c.fail('version', JSON.stringify(m.version), `this runtime reads version ${MANIFEST_VERSION}; upgrade sortednet or re-pack with this version`);
  const arch = c.oneOf(m.arch, 'arch', ARCHS);
  const graphs = GRAPHS[arch] ?? c.fail('arch', `"${arch}", which this runtime build does not include`, `import 'sortednet/runtime/${arch}' before loading (browser entry), or upgrade sortednet`);
  const config = c.obj(m.config, 'config', graphs.configKeys);
  for (const k of graphs.configKeys) c.int(config[k], `config.${k}`, 1);
  const dims = c.obj(m.dims, 'dims', [], graphs.dims);
  for (const [dim, levels] of Object.entries(dims)) {
    const ls = c.arr(levels, `dims.${dim}`);
    if (ls.length === 0) c.fail(`dims.${dim}`, 'an empty list');
    ls.forEach((l, i) => {
      if (c.num(l, `dims.${dim}[${i}]`) <= 0) c.fail(`dims.${dim}[${i}]`, `${l}, not positive`);
      if (i > 0 && !((l as number) > (ls[i - 1] as number))) c.fail(`dims.${dim}`, `levels that do not ascend: ${JSON.stringify(ls)}`);
    });
  }
  c.int(m.opset, 'opset', 1);
  for (const key of ['inputs', 'outputs'] as const) {
    c.arr(m[key], key).forEach((v, i) => {
      const io = c.obj(v, `${key}[${i}]`, ['name', 'dtype', 'dims']);
      c.str(io.name, `${key}[${i}].name`);
      c.oneOf(io.dtype, `${key}[${i}].dtype`, DTYPES);
      c.arr(io.dims, `${key}[${i}].dims`).forEach((d, k) => typeof d === 'string' ? c.str(d, `${key}[${i}].dims[${k}]`) : c.int(d, `${key}[${i}].dims[${k}]`));
    });
  }
  let end = 0;
  const names = new Set<string>();
  c.arr(m.tensors, 'tensors').forEach((v, i) => {
    const p = `tensors[${i}]`;
    const t = c.obj(v, p, ['name', 'dims', 'dtype', 'offset', 'length']);
    const name = c.str(t.name, `${p}.name`);
    if (names.has(name)) c.fail(`${p}.name`, `"${name}" twice`);
    names.add(name);
    const n = c.arr(t.dims, `${p}.dims`).reduce<number>((a, d, k) => a * c.int(d, `${p}.dims[${k}]`), 1);
    const dtype = c.oneOf(t.dtype, `${p}.dtype`, DTYPES);
    const offset = c.int(t.offset, `${p}.offset`);
    const length = c.int(t.length, `${p}.length`);
    if (length !== n * DTYPE_BYTES[dtype]) c.fail(`${p}.length`, `${length} bytes for dims ${JSON.stringify(t.dims)} (${n * DTYPE_BYTES[dtype]} expected)`);
    if (offset < end) c.fail(`${p}.offset`, `${offset}, which overlaps the previous tensor (ends at ${end})`);
    end = offset + length;
  });
  const ids = new Set<string>();
  let prevBytes = 0;
  const subnets = c.arr(m.subnets, 'subnets');
  if (subnets.length === 0) c.fail('subnets', 'an empty list');
  subnets.forEach((v, i) => {
    const p = `subnets[${i}]`;
    const s = c.obj(v, p, ['id', 'levels', 'params', 'bytes', 'macs', 'activations', 'prefixBytes', 'metrics'], ['latencyMs']);
    const id = c.str(s.id, `${p}.id`);
    if (ids.has(id)) c.fail(`${p}.id`, `"${id}" twice`);
    ids.add(id);
    const levels = c.obj(s.levels, `${p}.levels`, [], Object.keys(dims));
    for (const [dim, l] of Object.entries(levels)) {
      if (!(dims[dim] as number[]).includes(l as number)) c.fail(`${p}.levels.${dim}`, JSON.stringify(l), `use a level from dims.${dim}: ${JSON.stringify(dims[dim])}`);
    }
    for (const k of ['params', 'bytes', 'macs', 'activations', 'prefixBytes']) c.int(s[k], `${p}.${k}`);
    if ((s.prefixBytes as number) > end) c.fail(`${p}.prefixBytes`, `${s.prefixBytes as number}, past the last tensor (ends at ${end})`);
    if ((s.bytes as number) < prevBytes) c.fail(`${p}.bytes`, `${s.bytes as number}, smaller than the subnet before it; subnets must be listed smallest first`);
    prevBytes = s.bytes as number;
    const metrics = c.obj(s.metrics, `${p}.metrics`, [], ['accuracy', 'loss', 'perplexity']);
    for (const [k, x] of Object.entries(metrics)) c.num(x, `${p}.metrics.${k}`);
    if (s.latencyMs !== undefined && c.num(s.latencyMs, `${p}.latencyMs`) < 0) c.fail(`${p}.latencyMs`, 'negative');
  });
  if (m.segments !== undefined) {
    let at = 0;
    const ends = new Set<number>();
    c.arr(m.segments, 'segments').forEach((v, i) => {
      const seg = c.obj(v, `segments[${i}]`, ['end', 'sha256']);
      const e = c.int(seg.end, `segments[${i}].end`, at + 1);
      if (!/^[0-9a-f]{64}$/.test(seg.sha256 as string)) c.fail(`segments[${i}].sha256`, `${JSON.stringify(seg.sha256)}, not 64 lowercase hex digits`);
      ends.add((at = e));
    });
    if (at < end) c.fail('segments', `the last segment ends at ${at}, before the last tensor (ends at ${end})`);
    subnets.forEach((s, i) => ends.has((s as Obj).prefixBytes as number) || c.fail(`subnets[${i}].prefixBytes`, `${(s as Obj).prefixBytes as number}, not the end of a segment`));
  }
  if (m.data !== undefined) {
    const d = c.obj(m.data, 'data', ['name', 'source', 'train', 'test']);
    c.str(d.name, 'data.name');
    c.str(d.source, 'data.source');
    c.int(d.train, 'data.train');
    c.int(d.test, 'data.test');
  }
  if (m.producer !== undefined) c.str(m.producer, 'producer');
  return m as unknown as Manifest;
}
