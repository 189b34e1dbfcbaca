/**
 * Encode a standalone ONNX ModelProto with the tiny wire writer. Field numbers are ONNX's
 * (onnx.proto); fields go out in number order except the graph, which comes last so that
 * metadata precedes it, and initializers, which close the graph.
 *
 * @example
 * const bytes = encodeModel(graph, tensors, { opset: 17, metadata: [] });
 * await ort.InferenceSession.create(bytes);
 */
import { DTYPE_BYTES, DTYPE_CODE, type GraphDef, type GraphNode, type TensorBytes } from './graph.js';
import type { IoEntry } from './manifest-types.js';
import { WireWriter } from './wire.js';

export const IR_VERSION = 8;
export const PRODUCER_NAME = 'sortednet';
export const PRODUCER_VERSION = '0.1.0';

const ATTR_TYPE = { float: 1, int: 2, ints: 7 } as const;

export interface ModelHeader {
  opset: number;
  /** `metadata_props` entries, in order. */
  metadata: [string, string][];
}

function valueInfo(io: IoEntry): WireWriter {
  const shape = new WireWriter();
  for (const d of io.dims) {
    const dim = typeof d === 'number' ? new WireWriter().varintField(1, d) : new WireWriter().stringField(2, d);
    shape.message(1, dim);
  }
  const tensorType = new WireWriter().varintField(1, DTYPE_CODE[io.dtype]).message(2, shape);
  return new WireWriter().stringField(1, io.name).message(2, new WireWriter().message(1, tensorType));
}

function node(n: GraphNode): WireWriter {
  const w = new WireWriter();
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  w.stringField(4, n.op);
  for (const [name, a] of Object.entries(n.attrs)) {
    const attr = new WireWriter().stringField(1, name);
    if (a.kind === 'float') attr.floatField(2, a.value);
    else if (a.kind === 'int') attr.varintField(3, a.value);
    else for (const v of a.value) attr.varintField(8, v);
    w.message(5, attr.varintField(20, ATTR_TYPE[a.kind]));
  }
  return w;
}

/**
 * The `path` of the external data that sessions read stored blocks from: ORT's in-memory
 * `externalData: [{ path: EXTERNAL_DATA, data: fileBytes }]` (sessions.ts).
 */
export const EXTERNAL_DATA = 'sortednet.bin';

/**
 * TensorProto with raw_data last; or, with `external` and a stored block (`t.at`; folded tensors have none), no data
 * but where it lies in the packed file: external_data {location, offset} and data_location
 * EXTERNAL (1). ORT reads it from there, so the block is not copied into the encoded model.
 */
function tensor(name: string, t: TensorBytes, external?: boolean): WireWriter {
  const w = new WireWriter();
  for (const d of t.dims) w.varintField(1, d);
  w.varintField(2, DTYPE_CODE[t.dtype]).stringField(8, name);
  if (external && t.at !== undefined) {
    return w.message(13, new WireWriter().stringField(1, 'location').stringField(2, EXTERNAL_DATA)).message(13, new WireWriter().stringField(1, 'offset').stringField(2, `${t.at}`)).varintField(14, 1);
  }
  const size = t.dims.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
  return w.bytesField(9, t.write ? { length: size, write: t.write } : t.bytes);
}

/**
 * GraphProto: nodes, name, inputs, outputs, then the initializers in `graph.initializers` order.
 * `external`: stored blocks refer to the packed file (see `tensor`) instead of holding their bytes.
 */
export function encodeGraph(graph: GraphDef, tensors: Map<string, TensorBytes>, external?: boolean): WireWriter {
  const w = new WireWriter();
  for (const n of graph.nodes) w.message(1, node(n));
  w.stringField(2, graph.name);
  for (const i of graph.inputs) w.message(11, valueInfo(i));
  for (const o of graph.outputs) w.message(12, valueInfo(o));
  for (const name of graph.initializers) w.message(5, tensor(name, tensors.get(name)!, external));
  return w;
}

/**
 * `into(length)` may supply the output buffer (of exactly `length` bytes) to reuse memory.
 * `external`: as `encodeGraph`; the session then needs the packed file's bytes as EXTERNAL_DATA.
 */
export function encodeModel(graph: GraphDef, tensors: Map<string, TensorBytes>, header: ModelHeader, into?: (length: number) => Uint8Array, external?: boolean): Uint8Array {
  const w = new WireWriter().varintField(1, IR_VERSION).stringField(2, PRODUCER_NAME).stringField(3, PRODUCER_VERSION);
  w.message(8, new WireWriter().varintField(2, header.opset));
  for (const [k, v] of header.metadata) w.message(14, new WireWriter().stringField(1, k).stringField(2, v));
  return w.message(7, encodeGraph(graph, tensors, external)).finish(into);
}
