/**
 * Registers the sorted CNN's graph builders. Node's entries import it already; in a browser,
 * import it once before loading a CNN model (it keeps the core bundle small).
 *
 * @example
 * import 'sortednet/runtime/cnn';
 * const model = await SortedModel.load('/cnn.onnx', { ort }); // arch "cnn" now loads
 */
import { CNN_GRAPHS } from './graphs/cnn.js';
import { registerArch } from './graphs/index.js';
import { switchGraph } from './switch.js';

registerArch('cnn', { ...CNN_GRAPHS, switchGraph: (m) => switchGraph(m, m.subnets) });
