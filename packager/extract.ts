/**
 * Extract one subnet as a standalone ONNX model: the same graph and folded weights the runtime
 * builds for its session, written with the protobufjs writer.
 *
 * @example
 * const { bytes } = extractSubnet(packed, 'd1-w25', 'model.onnx');
 * // an ONNX file with plain initializers layers.0.weight[:,:128], layers.0.bias[:128], ...
 */
import '../runtime/archs.js';
import { SortedNetError } from '../runtime/errors.js';
import { readManifest, type SubnetEntry } from '../runtime/manifest.js';
import { subnetMetadata, subnetParts } from '../runtime/subnet.js';
import { writeFileAtomic } from '../training/checkpoint.js';
import { readOnnx } from './read.js';
import { writeModel } from './onnx/write.js';

export interface ExtractResult {
  bytes: Uint8Array;
  subnet: SubnetEntry;
}

/** Extract in memory. `file` names the packed file in errors. */
export function extractSubnet(packed: Uint8Array, id: string, file = '<memory>'): ExtractResult {
  const { manifest } = readManifest(packed, file);
  const { subnet, graph, tensors } = subnetParts(manifest, packed, id, file);
  return { bytes: writeModel(graph, tensors, { opset: manifest.opset, metadata: subnetMetadata(manifest, subnet) }), subnet };
}

/** Read a packed file and write the subnet's model atomically. */
export async function extractFile(input: string, id: string, output: string): Promise<ExtractResult> {
  const result = extractSubnet(await readOnnx(input), id, input);
  try {
    await writeFileAtomic(output, result.bytes);
  } catch (err) {
    throw new SortedNetError({ code: 'IO', file: output, field: '(file)', found: `cannot write: ${(err as Error).message}`, fix: 'check that the folder exists and is writable', cause: err });
  }
  return result;
}
