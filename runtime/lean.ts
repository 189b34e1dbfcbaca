/**
 * Registers the MLP's tuned switch graph and its compact graph (runtime/graphs/mlp-switch.ts),
 * what lean mode runs: one session with every stored block resident once, any subnet per call.
 * Node's entries import it already; in a browser, import it once before loading with
 * `mode: 'lean'` (or with a `cacheMB` under which `auto` would choose lean). It keeps the core
 * bundle small, like the CNN and GPT graph builders and the Cache API store.
 *
 * @example
 * import 'sortednet/runtime/lean';
 * const model = await SortedModel.load('/model.onnx', { ort, mode: 'lean' }); // weights once, switch per call
 */
import { GRAPHS } from './graphs/index.js';
import type { MlpConfig } from './graphs/mlp.js';
import { mlpCompact, mlpSwitch } from './graphs/mlp-switch.js';

const mlp = GRAPHS.mlp!;
mlp.switchGraph = (m) => mlpSwitch(m.config as unknown as MlpConfig, m.dims);
mlp.compactGraph = (m) => mlpCompact(m.config as unknown as MlpConfig, m.dims);
