/**
 * Cut one subnet out of a packed file: build its graph, copy its blocks from the manifest
 * offsets, fold the Concat trees into plain initializers. Both the runtime (sessions) and
 * `sortednet-pack extract` use `subnetParts`, so a session runs the extracted file's graph and
 * weights (without its metadata, which only files need).
 *
 * @example
 * const { graph, tensors } = subnetParts(manifest, fileBytes, 'd1-w25', 'model.onnx');
 * graph.initializers; // ['layers.0.weight[:,:128]', 'layers.0.bias[:128]', 'head.weight[:128,:]', 'head.bias']
 */
import { raise } from './errors.js';
import { foldConcats, type GraphDef, type TensorBytes } from './graph.js';
import { subnetGraph } from './graphs/index.js';
import { findSubnet, type Manifest, type SubnetEntry } from './manifest.js';
import { encodeModel } from './onnx.js';
import { varintSize } from './wire.js';

/** metadata_props key of a standalone subnet model: its manifest entry, without file offsets. */
export const SUBNET_META_KEY = 'sortednet.subnet';

export interface SubnetParts {
  subnet: SubnetEntry;
  graph: GraphDef;
  tensors: Map<string, TensorBytes>;
}

const indexes = new WeakMap<Manifest, Map<string, number>>();

function tensorIndex(manifest: Manifest, name: string): number {
  let index = indexes.get(manifest);
  if (!index) indexes.set(manifest, (index = new Map(manifest.tensors.map((t, i) => [t.name, i]))));
  return index.get(name) ?? -1;
}

/** Throws BAD_ONNX when `bytes` is too short or the tensor's raw_data is not where the manifest says. */
export function tensorBytes(manifest: Manifest, name: string, bytes: Uint8Array, file: string): TensorBytes {
  const i = tensorIndex(manifest, name);
  const fail = (found: string, fix: string): never => raise('BAD_ONNX', file, `sortednet.tensors[${i}] (${name})`, found, fix);
  if (i < 0) fail('missing from the manifest', 're-pack the checkpoint with `sortednet-pack`');
  const t = manifest.tensors[i]!;
  if (t.offset + t.length > bytes.length) {
    fail(`ends at byte ${t.offset + t.length} but only ${bytes.length} bytes are there, so the file is truncated`, 'download or re-pack the file');
  }
  // raw_data (field 9, length-delimited) must sit right before the offset: tag 0x4a, then the length.
  const tagAt = t.offset - varintSize(t.length) - 1;
  let len = 0;
  let scale = 1;
  for (let p = tagAt + 1; p < t.offset; p++, scale *= 128) len += (bytes[p]! & 0x7f) * scale;
  if (tagAt < 0 || bytes[tagAt] !== 0x4a || len !== t.length) {
    fail(`offset ${t.offset} does not point at raw_data of ${t.length} bytes (corrupt bytes, or a manifest from another file)`, 're-pack the checkpoint with `sortednet-pack`');
  }
  return { dims: t.dims, dtype: t.dtype, bytes: bytes.subarray(t.offset, t.offset + t.length), at: t.offset };
}

/**
 * The subnet's graph and tensors. `bytes` may be a prefix of `subnet.prefixBytes` or more.
 * `fold: false` keeps the Concat trees over the stored blocks (ORT folds them at load, in C++).
 */
export function subnetParts(manifest: Manifest, bytes: Uint8Array, id: string, file: string, fold = true): SubnetParts {
  const subnet = findSubnet(manifest, id, file);
  const graph = subnetGraph(manifest, subnet.levels);
  const tensors = new Map<string, TensorBytes>();
  for (const name of graph.initializers) tensors.set(name, tensorBytes(manifest, name, bytes, file));
  return { subnet, graph: fold ? foldConcats(graph, tensors) : graph, tensors };
}

/** metadata_props of a standalone subnet model. */
export function subnetMetadata(manifest: Manifest, subnet: SubnetEntry): [string, string][] {
  const { id, levels, params, macs, metrics } = subnet;
  return [[SUBNET_META_KEY, JSON.stringify({ id, levels, params, macs, metrics, arch: manifest.arch, config: manifest.config })]];
}

/**
 * A standalone ONNX model of one subnet, written by the runtime's own encoder: byte for byte
 * what `extract` writes with protobufjs (test/packager/extract.test.ts). `fold: false` keeps
 * the stored blocks and Concat trees (ORT can fold those itself, but its constant folding is
 * several times slower than folding here). Not in the runtime's public API: files are the
 * packager's (`extractSubnet`).
 */
export function subnetModel(manifest: Manifest, bytes: Uint8Array, id: string, file: string, fold = true, into?: (length: number) => Uint8Array): Uint8Array {
  const { subnet, graph, tensors } = subnetParts(manifest, bytes, id, file, fold);
  return encodeModel(graph, tensors, { opset: manifest.opset, metadata: subnetMetadata(manifest, subnet) }, into);
}
