/**
 * Inspect a packed file: the manifest's subnets as a table or JSON, and a text dump of the ONNX
 * graph decoded with protobufjs (independently of the runtime's wire reader).
 *
 * @example
 * console.log(formatInspect(inspectBytes(bytes, 'model.onnx')));
 * // model.onnx: mlp (inputSize 784, hidden 512, classes 10), 12 subnets, 3.74 MB
 * // id      depth width params  MACs    bytes    prefix          accuracy loss
 * // d1-w25  1     0.25  101,770 101,632 407.1 kB 416.1 kB (11%)  0.533    1.917
 */
import '../runtime/archs.js';
import { readManifest, type Manifest } from '../runtime/manifest.js';
import { SortedNetError } from '../runtime/errors.js';
import { onnx } from './onnx/schema.js';

export interface InspectReport {
  file: string;
  /** File size in bytes. */
  size: number;
  manifest: Manifest;
}

export function inspectBytes(bytes: Uint8Array, file = '<memory>'): InspectReport {
  return { file, size: bytes.length, manifest: readManifest(bytes, file).manifest };
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return n < 1e9 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e9).toFixed(2)} GB`;
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

export function formatInspect(report: InspectReport): string {
  const { manifest: m, size } = report;
  const dims = Object.keys(m.dims) as (keyof Manifest['dims'])[];
  const metrics = (['accuracy', 'loss', 'perplexity'] as const).filter((k) => m.subnets.some((s) => s.metrics[k] !== undefined));
  const int = (n: number): string => n.toLocaleString('en-US');
  const rows = [['id', ...dims, 'params', 'MACs', 'bytes', 'prefix', ...metrics]];
  for (const s of m.subnets) {
    rows.push([
      s.id,
      ...dims.map((d) => String(s.levels[d] ?? '-')),
      int(s.params),
      int(s.macs),
      formatBytes(s.bytes),
      `${formatBytes(s.prefixBytes)} (${Math.round((100 * s.prefixBytes) / size)}%)`,
      ...metrics.map((k) => (s.metrics[k] === undefined ? '-' : s.metrics[k]!.toFixed(4))),
    ]);
  }
  const config = Object.entries(m.config).map(([k, v]) => `${k} ${v}`).join(', ');
  const data = m.data ? `, metrics on ${m.data.name}` : '';
  return `${report.file}: ${m.arch} (${config}), ${m.subnets.length} subnets, ${formatBytes(size)}${data}\n${table(rows)}`;
}

interface DecodedTensor { name: string; dims: number[]; data_type: number; raw_data?: Uint8Array }
interface DecodedNode { input: string[]; output: string[]; op_type: string; attribute: { name: string; i?: number; f?: number; ints?: number[]; type: number }[] }
interface DecodedIo { name: string; type: { tensor_type: { elem_type: number; shape: { dim: { dim_value?: number; dim_param?: string }[] } } } }

/** A stable text dump of the whole ONNX graph, for reading and for golden tests. */
export function dumpGraph(bytes: Uint8Array, file = '<memory>'): string {
  let model: { ir_version: number; opset_import: { version: number }[]; graph: { name: string; node: DecodedNode[]; input: DecodedIo[]; output: DecodedIo[]; initializer: DecodedTensor[] } };
  try {
    model = onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { longs: Number, arrays: true, defaults: false }) as typeof model;
  } catch (err) {
    throw new SortedNetError({ code: 'BAD_ONNX', file, field: 'ModelProto', found: `does not decode: ${(err as Error).message}`, fix: 'download or re-pack the file', cause: err });
  }
  const io = (v: DecodedIo): string => `${v.name} [${v.type.tensor_type.shape.dim.map((d) => d.dim_param ?? d.dim_value).join(', ')}]`;
  // AttributeProto.type: 1 FLOAT, 2 INT, 7 INTS.
  const attr = (a: DecodedNode['attribute'][number]): string => `${a.name}=${a.type === 7 ? `[${(a.ints ?? []).join(',')}]` : a.type === 1 ? (a.f ?? 0) : (a.i ?? 0)}`;
  const g = model.graph;
  const lines = [`graph ${g.name} (ir_version ${model.ir_version}, opset ${model.opset_import.map((o) => o.version).join(',')})`];
  lines.push(...g.input.map((v) => `input  ${io(v)}`), ...g.output.map((v) => `output ${io(v)}`));
  for (const t of g.initializer) lines.push(`init   ${t.name} [${t.dims.join(', ')}] ${t.raw_data?.length ?? 0} bytes`);
  for (const n of g.node) {
    const attrs = n.attribute.length ? `{${n.attribute.map(attr).join(', ')}}` : '';
    lines.push(`node   ${n.output.join(', ')} = ${n.op_type}${attrs}(${n.input.join(', ')})`);
  }
  return lines.join('\n') + '\n';
}
