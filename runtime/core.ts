/**
 * sortednet runtime core: no ORT import, no node: modules, only the MLP's graph builders built
 * in. Use it through `sortednet/runtime` (runtime/node.ts in Node, runtime/web.ts in browsers).
 *
 * @example
 * import * as ort from 'onnxruntime-web';
 * import { SortedModel } from 'sortednet/runtime';
 * const model = await SortedModel.load(bytes, { ort, budget: { memoryMB: 2 } });
 * model.subnets.map((s) => s.id); // ['d1-w25', ..., 'd3-w100']
 */
export { SortedModel, type Explanation, type LoadOptions, type RunOptions, type SubnetInfo } from './sorted-model.js';
export type { Mode } from './sessions.js';
export type { ProgressEvent } from './loader.js';
export { LatencyEstimator, WINDOW, type Calibration } from './latency.js';
export { registerArch, type ArchGraphs, type SwitchGraph } from './graphs/index.js';
export { SortedNetError, type SortedNetErrorCode, type SortedNetErrorInit } from './errors.js';
export { readManifest, findSubnet, type ManifestLocation } from './manifest.js';
export type { Arch, Dim, DType, IoEntry, Levels, Manifest, SegmentEntry, SubnetEntry, SubnetMetrics, TensorEntry } from './manifest-types.js';
export { MANIFEST_FORMAT, MANIFEST_KEY, MANIFEST_VERSION } from './manifest-types.js';
export { validateManifest } from './validate.js';
export { selectSubnet, estimate, DEFAULT_LATENCY, BUDGET_KEYS, type Budget, type Estimate, type LatencyModel } from './select.js';
export { subnetParts } from './subnet.js';
export { openSource, registerSourceOpener, type ByteSource, type ModelSource, type SourceOpener, type SourceOptions } from './source.js';
export type { FeedValue } from './feeds.js';
export type { OrtLike, OrtSessionLike, OrtTensorLike, TensorOf } from './ort.js';
