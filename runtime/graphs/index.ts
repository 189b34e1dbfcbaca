/**
 * Graph builders per architecture, keyed by the manifest's `arch`.
 *
 * @example
 * const g = subnetGraph(manifest, { depth: 1, width: 0.25 });
 * g.outputs[0].name; // 'logits'
 */
import type { GraphDef } from '../graph.js';
import type { Arch, Dim, IoEntry, Levels, Manifest } from '../manifest-types.js';
import { CNN_GRAPHS } from './cnn.js';
import { GPT_CONFIG_KEYS, gptActivationBytes, gptGraph, gptIo, gptMacs, type GptConfig } from './gpt.js';
import { MLP_CONFIG_KEYS, mlpActivationBytes, mlpGraph, mlpIo, mlpMacs, type MlpConfig } from './mlp.js';

type Dims = Partial<Record<Dim, number[]>>;

export interface ArchGraphs {
  /** Config keys, each a positive integer. */
  configKeys: readonly string[];
  /** Dims this architecture nests. */
  dims: readonly Dim[];
  io(config: Record<string, number>): { inputs: IoEntry[]; outputs: IoEntry[] };
  /** The subnet's graph over stored tensors (Concat trees unfolded). */
  graph(config: Record<string, number>, dims: Dims, levels: Levels): GraphDef;
  macs(config: Record<string, number>, dims: Dims, levels: Levels): number;
  activationBytes(config: Record<string, number>, dims: Dims, levels: Levels): number;
}

const asMlp = (c: Record<string, number>): MlpConfig => c as unknown as MlpConfig;
const asGpt = (c: Record<string, number>): GptConfig => c as unknown as GptConfig;

export const GRAPHS: Partial<Record<Arch, ArchGraphs>> = {
  mlp: {
    configKeys: MLP_CONFIG_KEYS,
    dims: ['depth', 'width'],
    io: (c) => mlpIo(asMlp(c)),
    graph: (c, d, l) => mlpGraph(asMlp(c), d, l),
    macs: (c, d, l) => mlpMacs(asMlp(c), d, l),
    activationBytes: (c, d, l) => mlpActivationBytes(asMlp(c), d, l),
  },
  cnn: CNN_GRAPHS,
  gpt: {
    configKeys: GPT_CONFIG_KEYS,
    dims: ['depth', 'heads', 'ffn'],
    io: (c) => gptIo(asGpt(c)),
    graph: (c, d, l) => gptGraph(asGpt(c), d, l),
    macs: (c, d, l) => gptMacs(asGpt(c), d, l),
    activationBytes: (c, d, l) => gptActivationBytes(asGpt(c), d, l),
  },
};

/** The graph of one subnet of a (validated) manifest. */
export function subnetGraph(manifest: Manifest, levels: Levels): GraphDef {
  return GRAPHS[manifest.arch]!.graph(manifest.config, manifest.dims, levels);
}
