/**
 * Browser entry: the core as is (URLs and buffers), with the MLP's static graph builder. For CNN
 * or GPT models also `import 'sortednet/runtime/cnn'` or `'sortednet/runtime/gpt'`
 * (runtime/arch-*.ts); for lean mode on an MLP, `import 'sortednet/runtime/lean'`.
 * Pass your onnxruntime-web module.
 *
 * @example
 * import * as ort from 'onnxruntime-web';
 * import { SortedModel } from 'sortednet/runtime';
 * const model = await SortedModel.load('/models/mnist.onnx', { ort, budget: { latencyMs: 4 } });
 * // fetches only the byte prefix the chosen subnet needs (HTTP Range)
 */
export * from './core.js';
