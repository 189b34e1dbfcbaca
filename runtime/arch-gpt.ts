/**
 * Registers the sorted GPT's graph builders. Node's entries import it already; in a browser,
 * import it once before loading a GPT model (it keeps the core bundle small).
 *
 * @example
 * import 'sortednet/runtime/gpt';
 * const model = await SortedModel.load('/lm.onnx', { ort }); // arch "gpt" now loads
 */
import { GPT_CONFIG_KEYS, gptGraph, gptIo, type GptConfig } from './graphs/gpt.js';
import { registerArch } from './graphs/index.js';
import { switchGraph } from './switch.js';

const asGpt = (c: Record<string, number>): GptConfig => c as unknown as GptConfig;

registerArch('gpt', {
  configKeys: GPT_CONFIG_KEYS,
  dims: ['depth', 'heads', 'ffn'],
  io: (c) => gptIo(asGpt(c)),
  graph: (c, d, l) => gptGraph(asGpt(c), d, l),
  switchGraph: (m) => switchGraph(m, m.subnets),
});
