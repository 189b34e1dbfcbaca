/**
 * ONNX writer on protobufjs. Messages are encoded with the schema; the pieces whose position
 * matters are joined by hand: ModelProto header and metadata first, then the graph, whose
 * nodes and inputs come before the initializers, each with raw_data last. That is how a
 * tensor's raw_data offset in the file is known exactly.
 *
 * @example
 * const bytes = writeModel(graph, tensors, { opset: 17, metadata: [['sortednet.subnet', '{...}']] });
 * onnx.ModelProto.decode(bytes).graph.node.length; // graph.nodes.length
 */
import protobuf from 'protobufjs';
import { DTYPE_CODE, type AttrValue, type GraphDef, type GraphNode, type OpType, type TensorBytes } from '../../runtime/graph.js';
import type { DType, IoEntry } from '../../runtime/manifest-types.js';
import { IR_VERSION, PRODUCER_NAME, PRODUCER_VERSION, type ModelHeader } from '../../runtime/onnx.js';
import { FIELD, onnx } from './schema.js';

/**
 * What each op of the shared `ops` table may carry, keyed by op name; checked before writing so
 * a builder bug fails here, not in ORT. Ops from per-arch tables (Conv, Gather, ...) are
 * written as given.
 */
const NODE_SPECS: Record<OpType, { inputs: [number, number]; attrs: Partial<Record<string, AttrValue['kind']>> }> = {
  MatMul: { inputs: [2, 2], attrs: {} },
  Add: { inputs: [2, 2], attrs: {} },
  Mul: { inputs: [2, 2], attrs: {} },
  Relu: { inputs: [1, 1], attrs: {} },
  Concat: { inputs: [1, Infinity], attrs: { axis: 'int' } },
  Slice: { inputs: [4, 4], attrs: {} },
  Split: { inputs: [2, 2], attrs: { axis: 'int' } },
  Pad: { inputs: [2, 2], attrs: {} },
};

const ATTR_ENCODERS: { [K in AttrValue['kind']]: (v: Extract<AttrValue, { kind: K }>['value']) => Record<string, unknown> } = {
  float: (f) => ({ f, type: 1 }),
  int: (i) => ({ i, type: 2 }),
  ints: (ints) => ({ ints, type: 7 }),
};

export function nodeProto(n: GraphNode): Record<string, unknown> {
  const spec = NODE_SPECS[n.op] as (typeof NODE_SPECS)[OpType] | undefined;
  if (spec && (n.inputs.length < spec.inputs[0] || n.inputs.length > spec.inputs[1])) throw new Error(`${n.op} -> ${n.outputs[0]}: ${n.inputs.length} inputs`);
  const attribute = Object.entries(n.attrs).map(([name, a]) => {
    if (spec && spec.attrs[name] !== a.kind) throw new Error(`${n.op} -> ${n.outputs[0]}: attribute ${name} of kind ${a.kind}`);
    return { name, ...(ATTR_ENCODERS[a.kind] as (v: unknown) => Record<string, unknown>)(a.value) };
  });
  return { input: n.inputs, output: n.outputs, op_type: n.op, attribute };
}

function valueInfoProto(io: IoEntry): Record<string, unknown> {
  const dim = io.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name: io.name, type: { tensor_type: { elem_type: DTYPE_CODE[io.dtype], shape: { dim } } } };
}

const lengthPrefix = (field: number, length: number): Uint8Array => protobuf.Writer.create().uint32((field << 3) | 2).uint32(length).finish();

/** ModelProto without its graph: ir_version, producer, opset_import, metadata_props. */
export function modelHead(header: ModelHeader): Uint8Array {
  return onnx.ModelProto.encode({
    ir_version: IR_VERSION,
    producer_name: PRODUCER_NAME,
    producer_version: PRODUCER_VERSION,
    opset_import: [{ version: header.opset }],
    metadata_props: header.metadata.map(([key, value]) => ({ key, value })),
  }).finish();
}

export interface TensorMeta {
  name: string;
  dims: number[];
  dtype: DType;
  /** Bytes of raw data. */
  length: number;
}

export interface GraphLayout {
  /** GraphProto without initializers. */
  head: Uint8Array;
  /** Per initializer: everything before its raw bytes (field 5 tag and length, TensorProto fields, raw_data tag and length). */
  prefixes: Uint8Array[];
  /** Offset of each initializer's raw bytes from the start of the GraphProto payload. */
  rawOffsets: number[];
  /** GraphProto payload length. */
  length: number;
}

/** Lay out the graph with `tensors` as initializers, in that order. */
export function layoutGraph(graph: GraphDef, tensors: TensorMeta[]): GraphLayout {
  const head = onnx.GraphProto.encode({
    node: graph.nodes.map(nodeProto),
    name: graph.name,
    input: graph.inputs.map(valueInfoProto),
    output: graph.outputs.map(valueInfoProto),
  }).finish();
  let pos = head.length;
  const prefixes: Uint8Array[] = [];
  const rawOffsets: number[] = [];
  for (const t of tensors) {
    const fields = onnx.TensorProto.encode({ dims: t.dims, data_type: DTYPE_CODE[t.dtype], name: t.name }).finish();
    const raw = lengthPrefix(FIELD.tensor.raw_data, t.length);
    const outer = lengthPrefix(FIELD.graph.initializer, fields.length + raw.length + t.length);
    const prefix = new Uint8Array(outer.length + fields.length + raw.length);
    prefix.set(outer, 0);
    prefix.set(fields, outer.length);
    prefix.set(raw, outer.length + fields.length);
    prefixes.push(prefix);
    rawOffsets.push(pos + prefix.length);
    pos += prefix.length + t.length;
  }
  return { head, prefixes, rawOffsets, length: pos };
}

/** Bytes before the GraphProto payload: the model head, then field 7's tag and length. */
export function graphStart(head: Uint8Array, layout: GraphLayout): number {
  return head.length + lengthPrefix(FIELD.model.graph, layout.length).length;
}

/** Join the pieces; `data(i)` gives initializer i's raw bytes. */
export function assembleModel(head: Uint8Array, layout: GraphLayout, data: (i: number) => Uint8Array): Uint8Array {
  const start = graphStart(head, layout);
  const out = new Uint8Array(start + layout.length);
  out.set(head, 0);
  out.set(lengthPrefix(FIELD.model.graph, layout.length), head.length);
  out.set(layout.head, start);
  layout.prefixes.forEach((p, i) => {
    const raw = layout.rawOffsets[i]!;
    const d = data(i);
    out.set(p, start + raw - p.length);
    out.set(d, start + raw);
  });
  return out;
}

/** A standalone model with `graph.initializers` taken from `tensors`. */
export function writeModel(graph: GraphDef, tensors: Map<string, TensorBytes>, header: ModelHeader): Uint8Array {
  const list = graph.initializers.map((name) => ({ name, ...tensors.get(name)! }));
  const layout = layoutGraph(graph, list.map((t) => ({ name: t.name, dims: t.dims, dtype: t.dtype, length: t.bytes.length })));
  return assembleModel(modelHead(header), layout, (i) => list[i]!.bytes);
}
