/**
 * Graph builders per architecture, keyed by the manifest's `arch`. The MLP is built in; CNN
 * and GPT register themselves from their own entries (runtime/arch-cnn.ts, runtime/arch-gpt.ts),
 * and so does the MLP's switch graph for lean mode (runtime/lean.ts), so the browser bundle
 * carries only what an app imports.
 *
 * @example
 * const g = subnetGraph(manifest, { depth: 1, width: 0.25 });
 * g.outputs[0].name; // 'logits'
 */
import type { GraphDef, TensorBytes } from '../graph.js';
import type { Arch, Dim, IoEntry, Levels, Manifest } from '../manifest-types.js';
import { MLP_CONFIG_KEYS, mlpGraph, mlpIo, type MlpConfig } from './mlp.js';

type Dims = Partial<Record<Dim, number[]>>;

/** One graph that runs every subnet with each stored block resident once (`mode: 'lean'`). */
export interface SwitchGraph {
  graph: GraphDef;
  /** The graph's own small int64 constants (not stored in the file). */
  consts: Map<string, TensorBytes>;
  /** Name of the int64 input that picks the subnet per call. */
  routeInput: string;
  /** That input's values for a subnet at a batch size. */
  route(levels: Levels, batch: number): BigInt64Array;
}

export interface ArchGraphs {
  /** Config keys, each a positive integer. */
  configKeys: readonly string[];
  /** Dims this architecture nests. */
  dims: readonly Dim[];
  io(config: Record<string, number>): { inputs: IoEntry[]; outputs: IoEntry[] };
  /** The subnet's graph over stored tensors (Concat trees unfolded). */
  graph(config: Record<string, number>, dims: Dims, levels: Levels): GraphDef;
  /** The switch graph over every subnet; absent: lean mode is not available for this arch. */
  switchGraph?(manifest: Manifest): SwitchGraph;
  /** Every subnet with the weights once and fewer nodes, slower calls: lean mode under a memory budget too small for the switch graph's overhead. */
  compactGraph?(manifest: Manifest): SwitchGraph;
}

const asMlp = (c: Record<string, number>): MlpConfig => c as unknown as MlpConfig;

export const GRAPHS: Partial<Record<Arch, ArchGraphs>> = {
  mlp: {
    configKeys: MLP_CONFIG_KEYS,
    dims: ['depth', 'width'],
    io: (c) => mlpIo(asMlp(c)),
    graph: (c, d, l) => mlpGraph(asMlp(c), d, l),
  },
};

/** Add an architecture's builders (done by runtime/arch-cnn.ts and runtime/arch-gpt.ts on import). */
export function registerArch(arch: Arch, graphs: ArchGraphs): void {
  GRAPHS[arch] = graphs;
}

/** The graph of one subnet of a (validated) manifest. */
export function subnetGraph(manifest: Manifest, levels: Levels): GraphDef {
  return GRAPHS[manifest.arch]!.graph(manifest.config, manifest.dims, levels);
}
