/**
 * The runtime core with every architecture registered (mlp, cnn, gpt), lean mode's MLP switch
 * graph and the Cache API store. Node resolves
 * `sortednet/runtime` here through runtime/node.ts; browsers get runtime/web.ts (mlp only, smaller).
 *
 * @example
 * import * as ort from 'onnxruntime-node';
 * import { SortedModel } from 'sortednet/runtime';
 * const model = await SortedModel.load('lm.onnx', { ort }); // a gpt model loads too
 */
import './archs.js';
import './cache.js';
import './lean.js';

export * from './core.js';
