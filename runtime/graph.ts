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

export type OpType = 'MatMul' | 'Add' | 'Mul' | 'Relu' | 'Concat' | 'Slice' | 'Split' | 'Pad';

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'float'; value: number };

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
  /** Where `bytes` start in the packed file (stored blocks; sessions read those as external data). */
  at?: number;
  /** Writes the bytes straight into `dst` at `at` (folded tensors: skips building `bytes`). */
  write?(dst: Uint8Array, at: number): void;
}

const node = (op: OpType, inputs: string[], outputs: string[], attrs: GraphNode['attrs'] = {}): GraphNode => ({ op, inputs, outputs, attrs });

/** Node builders keyed by op name (ONNX opset 17 semantics). */
export const ops = {
  MatMul: (a: string, b: string, y: string): GraphNode => node('MatMul', [a, b], [y]),
  Add: (a: string, b: string, y: string): GraphNode => node('Add', [a, b], [y]),
  Mul: (a: string, b: string, y: string): GraphNode => node('Mul', [a, b], [y]),
  Relu: (x: string, y: string): GraphNode => node('Relu', [x], [y]),
  Concat: (xs: string[], axis: number, y: string): GraphNode => node('Concat', xs, [y], { axis: { kind: 'int', value: axis } }),
  /** Slice(x, starts, ends, axes): all four are value names (int64 tensors for the last three). */
  Slice: (x: string, starts: string, ends: string, axes: string, y: string): GraphNode => node('Slice', [x, starts, ends, axes], [y]),
  /** Pad(x, pads): constant zeros; negative pads crop (ONNX opset 11+). */
  Pad: (x: string, pads: string, y: string): GraphNode => node('Pad', [x, pads], [y]),
  /** Split(x, sizes) along axis 0 into `ys`. */
  Split: (x: string, sizes: string, ys: string[]): GraphNode => node('Split', [x, sizes], ys, { axis: { kind: 'int', value: 0 } }),
} satisfies Record<OpType, (...args: never[]) => GraphNode>;

/**
 * What every subnet graph builder needs: a node list, the stored tensors read (each once, in
 * order of first use), and Concat that passes a single input through.
 */
export function graphParts() {
  const nodes: GraphNode[] = [];
  const seen = new Set<string>();
  const initializers: string[] = [];
  return {
    nodes,
    initializers,
    use(b: { name: string }): string {
      if (!seen.has(b.name)) {
        seen.add(b.name);
        initializers.push(b.name);
      }
      return b.name;
    },
    concat(xs: string[], axis: number, y: string): string {
      if (xs.length === 1) return xs[0]!;
      nodes.push(ops.Concat(xs, axis, y));
      return y;
    },
  };
}

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
 * becomes plain initializers (what `extract` writes and the runtime loads). Nested Concats are
 * folded in one pass: each stored block is copied once, straight to its place. Mutates `tensors`.
 */
export function foldConcats(graph: GraphDef, tensors: Map<string, TensorBytes>): GraphDef {
  type Tree = TensorBytes | { axis: number; parts: Tree[]; dims: number[]; dtype: TensorBytes['dtype'] };
  const trees = new Map<string, Tree>(tensors);
  const nodes: GraphNode[] = [];
  for (const node of graph.nodes) {
    const parts = node.inputs.map((n) => trees.get(n));
    if (node.op !== 'Concat' || parts.some((t) => t === undefined)) {
      nodes.push(node);
      continue;
    }
    const axis = (node.attrs.axis as { value: number }).value;
    const dims = [...parts[0]!.dims];
    dims[axis] = parts.reduce((a, p) => a + p!.dims[axis]!, 0);
    trees.set(node.outputs[0]!, { axis, parts: parts as Tree[], dims, dtype: parts[0]!.dtype });
  }
  const initializers = [...new Set(nodes.flatMap((n) => n.inputs.filter((i) => trees.has(i))))];
  tensors.clear();
  for (const name of initializers) {
    const t = trees.get(name)!;
    if ('bytes' in t) {
      tensors.set(name, t);
      continue;
    }
    const size = t.dims.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    const write = (dst: Uint8Array, base: number): void => {
      const place = (x: Tree, at: number[]): void => {
        if ('parts' in x) {
          const to = [...at];
          for (const p of x.parts) {
            place(p, to);
            to[x.axis]! += p.dims[x.axis]!;
          }
        } else copyBlock(x, dst, base, t.dims, at);
      };
      place(t, t.dims.map(() => 0));
    };
    let bytes: Uint8Array | undefined;
    tensors.set(name, {
      dims: t.dims,
      dtype: t.dtype,
      write,
      get bytes() {
        if (!bytes) write((bytes = new Uint8Array(size)), 0);
        return bytes;
      },
    });
  }
  return { ...graph, nodes, initializers };
}

/** Copy a row-major block into the tensor at `dst[base]` (dims `full`) at index `at`, in the longest contiguous runs. */
function copyBlock(src: TensorBytes, dst: Uint8Array, base: number, full: number[], at: number[]): void {
  const d = src.dims;
  const elem = DTYPE_BYTES[src.dtype];
  let p = d.length - 1;
  while (p > 0 && d[p] === full[p]) p--;
  const run = d.slice(p).reduce((a, b) => a * b, 1) * elem;
  const strides = full.map((_, i) => full.slice(i + 1).reduce((a, b) => a * b, 1) * elem);
  const outer = d.slice(0, p).reduce((a, b) => a * b, 1);
  const idx = d.slice(0, p).map(() => 0);
  for (let o = 0; o < outer; o++) {
    let off = base;
    for (let i = 0; i < full.length; i++) off += ((i < p ? idx[i]! : 0) + at[i]!) * strides[i]!;
    dst.set(src.bytes.subarray(o * run, o * run + run), off);
    for (let i = p - 1; i >= 0 && ++idx[i]! === d[i]; i--) idx[i] = 0;
  }
}
