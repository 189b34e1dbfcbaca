/**
 * sortednet packager: checkpoint -> one packed ONNX file; inspect and extract subnets.
 *
 * @example
 * import { packFile, extractSubnet, inspectBytes } from 'sortednet/packager';
 * const { manifest } = await packFile('model.safetensors', 'model.onnx');
 * manifest.subnets[0]; // { id: 'd1-w25', params: 101770, bytes: 407080, prefixBytes: 416126, ... }
 */
export { packCheckpoint, packFile, OPSET, type PackResult } from './pack.js';
export { extractSubnet, extractFile, type ExtractResult } from './extract.js';
export { inspectBytes, formatInspect, dumpGraph, type InspectReport } from './inspect.js';
export { main } from './cli.js';
export { readOnnx } from './read.js';
export { EXPORTERS, exporterFor, type Exporter, type ExportPlan, type ExportTensor } from './exporters/index.js';
export { writeModel, layoutGraph, modelHead, assembleModel, type GraphLayout, type TensorMeta } from './onnx/write.js';
export { onnx, ONNX_PROTO } from './onnx/schema.js';
export type { Manifest, SubnetEntry, TensorEntry } from '../runtime/manifest-types.js';
