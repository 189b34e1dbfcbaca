/**
 * The runtime suite runs once per ORT backend: onnxruntime-node and onnxruntime-web (wasm, in
 * Node, single-threaded).
 *
 * @example
 * for (const b of BACKENDS) describe(b.name, () => { ... SortedModel.load(bytes, { ort: b.ort }) ... });
 */
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { packCheckpoint } from '../../packager/pack.js';
import { mlpCheckpoint } from '../packager/fixture.js';

ortWeb.env.wasm.numThreads = 1;

export const BACKENDS = [
  { name: 'onnxruntime-node', ort: ortNode },
  { name: 'onnxruntime-web (wasm)', ort: ortWeb },
] as const;

export const CONFIG = { inputSize: 20, hidden: 16, classes: 5 };
export const DIMS = { depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] };
export const CKPT = mlpCheckpoint(CONFIG, DIMS, 3);
export const PACKED = packCheckpoint(CKPT);
/** A fixed latency model, so selection tests do not depend on this machine's speed. */
export const LATENCY = { overheadMs: 0.1, msPerMac: 1e-5 };
