/**
 * A minimal graph description shared by the packager (full graph, extract) and the runtime
 * (subnet sessions), so the graph logic exists once. Nodes are built from the `ops` table.
 *
 * @example
 * const n = ops.Concat(['w[:,:128]', 'w[:,128:256]'], 1, 'w[:,:256]');
 * n.attrs.axis; // { kind: 'int', value: 1 }
 * sliceName('layers.1.weight', [[0, 256], [128, 256]], [512, 512]); // 'layers.1.weight[:256,128:256]'
 */
import type { DType, IoEntry } from './manifest-types.js';

export type OpType = 'MatMul' | 'Add' | 'Relu' | 'Concat' | 'Slice' | 'Split' | 'Pad';

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string };

export interface GraphNode {
  op: OpType;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

export interface GraphDef {
  name: string;
  inputs: IoEntry[];
  outputs: IoEntry[];
  /** Topologically ordered. */
  nodes: GraphNode[];
  /** Stored tensors the graph reads, in order of first use. */
  initializers: string[];
}

/** A tensor's raw little-endian bytes. */
export interface TensorBytes {
  dims: number[];
  dtype: DType;
  bytes: Uint8Array;
}

/** Node builders keyed by op name (ONNX opset 17 semantics). */
export const ops = {
  MatMul: (a: string, b: string, y: string): GraphNode => ({ op: 'MatMul', inputs: [a, b], outputs: [y], attrs: {} }),
  Add: (a: string, b: string, y: string): GraphNode => ({ op: 'Add', inputs: [a, b], outputs: [y], attrs: {} }),
  Relu: (x: string, y: string): GraphNode => ({ op: 'Relu', inputs: [x], outputs: [y], attrs: {} }),
  Concat: (xs: string[], axis: number, y: string): GraphNode => ({ op: 'Concat', inputs: xs, outputs: [y], attrs: { axis: { kind: 'int', value: axis } } }),
  /** Slice(x, starts, ends, axes): all four are value names (int64 tensors for the last three). */
  Slice: (x: string, starts: string, ends: string, axes: string, y: string): GraphNode => ({ op: 'Slice', inputs: [x, starts, ends, axes], outputs: [y], attrs: {} }),
  /** Pad(x, pads): constant zeros; negative pads crop (ONNX opset 11+). */
  Pad: (x: string, pads: string, y: string): GraphNode => ({ op: 'Pad', inputs: [x, pads], outputs: [y], attrs: {} }),
  /** Split(x, sizes) along axis 0 into `ys`. */
  Split: (x: string, sizes: string, ys: string[]): GraphNode => ({ op: 'Split', inputs: [x, sizes], outputs: ys, attrs: { axis: { kind: 'int', value: 0 } } }),
} satisfies Record<OpType, (...args: never[]) => GraphNode>;

/** ONNX TensorProto.DataType codes. */
export const DTYPE_CODE: Record<DType, number> = { float32: 1, int64: 7 };
export const DTYPE_BYTES: Record<DType, number> = { float32: 4, int64: 8 };

/**
 * Name of a region of a tensor in numpy slice notation; full ranges are written `:` and a
 * region covering the whole tensor is just the base name.
 */
export function sliceName(base: string, ranges: readonly (readonly [number, number])[], full: readonly number[]): string {
  const parts = ranges.map(([a, b], i) => (a === 0 && b === full[i] ? ':' : `${a === 0 ? '' : a}:${b}`));
  return parts.every((p) => p === ':') ? base : `${base}[${parts.join(',')}]`;
}

/**
 * Fold every Concat whose inputs are all constants into a new constant, in JS, so a subnet
 * becomes plain initializers (what `extract` writes and the runtime loads). Mutates `tensors`.
 */
export function foldConcats(graph: GraphDef, tensors: Map<string, TensorBytes>): GraphDef {
  const nodes: GraphNode[] = [];
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((n) => tensors.get(n));
    if (node.op !== 'Concat' || inputs.some((t) => t === undefined)) {
      nodes.push(node);
      continue;
    }
    const axis = (node.attrs.axis as { value: number }).value;
    tensors.set(node.outputs[0]!, concatBytes(inputs as TensorBytes[], axis));
  }
  const used = new Set(nodes.flatMap((n) => n.inputs));
  const initializers = [...new Set(nodes.flatMap((n) => n.inputs.filter((i) => tensors.has(i))))];
  for (const name of [...tensors.keys()]) if (!used.has(name)) tensors.delete(name);
  return { ...graph, nodes, initializers };
}

/** Row-major concatenation along `axis` on raw bytes. */
export function concatBytes(parts: TensorBytes[], axis: number): TensorBytes {
  const first = parts[0]!;
  const elem = DTYPE_BYTES[first.dtype];
  const outer = first.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const chunks = parts.map((p) => p.dims.slice(axis).reduce((a, b) => a * b, 1) * elem);
  const row = chunks.reduce((a, b) => a + b, 0);
  const bytes = new Uint8Array(outer * row);
  for (let o = 0; o < outer; o++) {
    let pos = o * row;
    parts.forEach((p, k) => {
      const c = chunks[k]!;
      bytes.set(p.bytes.subarray(o * c, o * c + c), pos);
      pos += c;
    });
  }
  const dims = [...first.dims];
  dims[axis] = parts.reduce((a, p) => a + p.dims[axis]!, 0);
  return { dims, dtype: first.dtype, bytes };
}
