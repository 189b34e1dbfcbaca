/**
 * Strict manifest validation: unknown keys are rejected with a did-you-mean, and every failure
 * names its path, e.g. `sortednet.subnets[2].levels.width`. Shapes are declared once, at module
 * level, with small rule combinators (each checks a value at a path and returns it); the checks
 * that relate fields (sizes, order, overlaps) follow them. Every load validates its manifest, so
 * a call builds no rules (declared per call, they made the check of the benchmark MLP's 7 KB
 * manifest 0.050 ms instead of 0.035 ms, hot).
 *
 * @example
 * validateManifest({ ...manifest, subnets: [{ ...s, levls: {} }] }, 'model.onnx');
 * // throws: model.onnx: sortednet.subnets[0].levls: unknown key "levls". Fix: did you mean "levels"?
 */
import { rejectUnknownKeys, raise } from './errors.js';
import { GRAPHS, type ArchGraphs } from './graphs/index.js';
import { DTYPE_BYTES } from './graph.js';
import { ARCHS, DTYPES, MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest } from './manifest-types.js';

type Obj = Record<string, any>;
/** Checks `v` at `path` (relative to `sortednet`) and returns it. */
type Rule = (v: unknown, path: string) => any;
const repack = 're-pack the checkpoint with `sortednet-pack`';

// Validation is synchronous, so one at a time: the file being checked, and (set by its `arch`
// and `dims`) its graph builders and the levels rule for its subnets.
let file = '';
const field = (path: string): string => `sortednet${path ? `.${path}` : ''}`;
const fail = (path: string, found: string, fix = repack): never => raise('BAD_MANIFEST', file, field(path), found, fix);
const is = (ok: (v: any) => boolean, what: string): Rule => (v, path) => (ok(v) ? v : fail(path, `${JSON.stringify(v)}, not ${what}`));
const str = is((v) => typeof v === 'string' && v !== '', 'a non-empty string');
const num = is(Number.isFinite, 'a finite number');
const int = (min = 0): Rule => is((v) => Number.isSafeInteger(v) && v >= min, `an integer >= ${min}`);
const oneOf = (allowed: readonly string[]): Rule => (v, path) => (allowed.includes(v as string) ? v : fail(path, JSON.stringify(v), `use one of ${allowed.join(', ')}`));
const list = (rule: Rule): Rule => (v, path) => (Array.isArray(v) ? v.forEach((x, i) => rule(x, `${path}[${i}]`)) ?? v : fail(path, `${JSON.stringify(v)}, not a list`));
/** An object with these keys; a key ending in `?` is optional. */
const shape = (rules: Record<string, Rule>): Rule => {
  // Read the declaration once, not per object checked (shapes check every tensor and subnet).
  const fields = Object.entries(rules).map(([k, rule]) => ({ key: k.replace('?', ''), rule, required: !k.endsWith('?') }));
  const keys = fields.map((f) => f.key);
  return (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `${JSON.stringify(v)}, not an object`);
    for (const k in v as Obj) if (!keys.includes(k)) rejectUnknownKeys(v as Obj, keys, 'BAD_MANIFEST', file, field(path));
    for (const { key, rule, required } of fields) {
      const p = path ? `${path}.${key}` : key;
      if (key in (v as Obj)) rule((v as Obj)[key], p);
      else if (required) fail(p, 'missing');
    }
    return v;
  };
};
const io = list(shape({ name: str, dtype: oneOf(DTYPES), dims: list((d, p) => (typeof d === 'string' ? str : int())(d, p)) }));

let graphs: ArchGraphs;
let levels: Rule;
const ascending: Rule = (v, path) => {
  const ls = list(num)(v, path) as number[];
  if (ls.length === 0) fail(path, 'an empty list');
  ls.forEach((l, i) => {
    if (l <= 0) fail(`${path}[${i}]`, `${l}, not positive`);
    if (i > 0 && !(l > ls[i - 1]!)) fail(path, `levels that do not ascend: ${JSON.stringify(ls)}`);
  });
  return ls;
};
// Rules run in key order, so `arch` sets `graphs` before `config` and `dims` read it, and
// `dims` sets `levels` before the subnets read it.
const manifestRule = shape({
  format: (v, p) => (v === MANIFEST_FORMAT ? v : fail(p, JSON.stringify(v), `expected "${MANIFEST_FORMAT}"; ${repack}`)),
  version: (v, p) => (v === MANIFEST_VERSION ? v : fail(p, JSON.stringify(v), `this runtime reads version ${MANIFEST_VERSION}; upgrade sortednet or re-pack with this version`)),
  arch: (v, p) => (graphs = GRAPHS[oneOf(ARCHS)(v, p) as Manifest['arch']] ?? fail(p, `"${v}", which this runtime build does not include`, `import 'sortednet/runtime/${v}' before loading (browser entry), or upgrade sortednet`)),
  config: (v, p) => shape(Object.fromEntries(graphs.configKeys.map((k) => [k, int(1)])))(v, p),
  dims: (v, p) => {
    const dims: Record<string, number[]> = shape(Object.fromEntries(graphs.dims.map((k) => [`${k}?`, ascending])))(v, p);
    levels = shape(Object.fromEntries(Object.entries(dims).map(([d, ls]) => [`${d}?`, (l, at) => (ls.includes(l as number) ? l : fail(at, JSON.stringify(l), `use a level from dims.${d}: ${JSON.stringify(ls)}`))])));
  },
  opset: int(1),
  inputs: io,
  outputs: io,
  tensors: list(shape({ name: str, dims: list(int()), dtype: oneOf(DTYPES), offset: int(), length: int() })),
  subnets: list(shape({
    id: str,
    levels: (v, p) => levels(v, p),
    params: int(), bytes: int(), macs: int(), activations: int(), prefixBytes: int(),
    metrics: shape({ 'accuracy?': num, 'loss?': num, 'perplexity?': num }),
    'latencyMs?': (v, p) => (num(v, p) < 0 ? fail(p, 'negative') : v),
  })),
  'segments?': list(shape({ end: int(1), sha256: is((v) => /^[0-9a-f]{64}$/.test(v), '64 lowercase hex digits') })),
  'data?': shape({ name: str, source: str, train: int(), test: int() }),
  'producer?': str,
});

/** Check a parsed manifest; returns it typed, or throws BAD_MANIFEST naming the path. */
export function validateManifest(json: unknown, name: string): Manifest {
  file = name;
  const m = manifestRule(json, '') as Obj;
  let end = 0;
  const names = new Set<string>();
  (m.tensors as Obj[]).forEach((t, i) => {
    const p = `tensors[${i}]`;
    if (names.has(t.name)) fail(`${p}.name`, `"${t.name}" twice`);
    names.add(t.name);
    const size = (t.dims as number[]).reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype as 'float32'];
    if (t.length !== size) fail(`${p}.length`, `${t.length} bytes for dims ${JSON.stringify(t.dims)} (${size} expected)`);
    if (t.offset < end) fail(`${p}.offset`, `${t.offset}, which overlaps the previous tensor (ends at ${end})`);
    end = t.offset + t.length;
  });
  const ids = new Set<string>();
  const subnets = m.subnets as Obj[];
  if (subnets.length === 0) fail('subnets', 'an empty list');
  subnets.forEach((s, i) => {
    const p = `subnets[${i}]`;
    if (ids.has(s.id)) fail(`${p}.id`, `"${s.id}" twice`);
    ids.add(s.id);
    if (s.prefixBytes > end) fail(`${p}.prefixBytes`, `${s.prefixBytes}, past the last tensor (ends at ${end})`);
    if (i > 0 && s.bytes < subnets[i - 1]!.bytes) fail(`${p}.bytes`, `${s.bytes}, smaller than the subnet before it; subnets must be listed smallest first`);
  });
  if (m.segments) {
    const ends = (m.segments as Obj[]).map((seg, i) => (i > 0 && seg.end <= m.segments[i - 1].end ? fail(`segments[${i}].end`, `${seg.end}, not an integer >= ${m.segments[i - 1].end + 1}`) : seg.end as number));
    const last = ends.at(-1) ?? 0;
    if (last < end) fail('segments', `the last segment ends at ${last}, before the last tensor (ends at ${end})`);
    subnets.forEach((s, i) => ends.includes(s.prefixBytes) || fail(`subnets[${i}].prefixBytes`, 'not the end of a segment'));
  }
  return m as Manifest;
}
