/**
 * The sorted MLP's switch graph, tuned: every (depth, width) subnet in one graph of about
 * 8 nodes per layer and width level, each stored block read by exactly one MatMul. The hidden
 * activation is carried at the chosen width u_k; Pad nodes whose pads arrive per call (negative
 * pads crop) give each block its input columns and an empty batch when its level is above
 * the chosen one. Outputs equal the static subnet's: the same products, summed in another order.
 *
 * Layer i, width level j: `P_j = h[:, :u_j] @ col_j + b_j` (columns u_(j-1)..u_j) and
 * `Q_j = h[:, u_(j-1):u_j] @ row_j` (added to columns 0..u_(j-1)); level j works on all rows
 * when j <= k, else on none. The head reads the exit of the chosen depth.
 *
 * `mlpCompact` is the other way to run every subnet with the weights once, for memory budgets
 * too small for this graph's own overhead (see its comment).
 *
 * @example
 * const sw = mlpSwitch({ inputSize: 784, hidden: 512, classes: 10 }, { depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] });
 * sw.graph.nodes.length; // 94
 * sw.route({ depth: 1, width: 0.25 }, 8); // BigInt64Array of pads: 4 per Pad node
 */
import { ops, type GraphDef, type GraphNode, type TensorBytes } from '../graph.js';
import type { Dim, Levels } from '../manifest-types.js';
import { levelBlocks, mlpGraph, mlpIo, mlpUnits, type MlpConfig } from './mlp.js';

type Pads = (d: number, k: number, batch: number) => number[];
type Dims = Partial<Record<Dim, number[]>>;

export interface MlpSwitch {
  graph: GraphDef;
  /** The graph's own int64 constants (not stored in the file). */
  consts: Map<string, TensorBytes>;
  routeInput: string;
  route(levels: Levels, batch: number): BigInt64Array;
}

export const ROUTE = 'sortednet.route';

export function mlpSwitch(config: MlpConfig, dims: Dims): MlpSwitch {
  const u = mlpUnits(config, dims);
  const K = u.length;
  const depths = dims.depth ?? [1];
  const D = Math.max(...depths);
  const seg = (j: number): number => u[j]! - (j ? u[j - 1]! : 0);
  const nodes: GraphNode[] = [];
  const initializers: string[] = [];
  const slots: Pads[] = [];
  /** Pad x with per-call pads [rowBegin, colBegin, rowEnd, colEnd]. */
  const pad = (x: string, y: string, pads: Pads): string => {
    nodes.push(ops.Pad(x, `${ROUTE}.${slots.length}`, y));
    slots.push(pads);
    return y;
  };
  const mm = (x: string, w: string, y: string): string => {
    initializers.push(w);
    nodes.push(ops.MatMul(x, w, y));
    return y;
  };
  const add = (a: string, b: string, y: string): string => (nodes.push(ops.Add(a, b, y)), y);
  // Rows of layer i's output: all when the chosen depth runs layer i.
  const rows = (i: number, d: number, B: number): number => (i < d ? B : 0);

  let h = 'input';
  for (let i = 0; i < D; i++) {
    const p = `layers.${i}`;
    const inRows = (d: number, B: number): number => (i === 0 ? B : rows(i - 1, d, B));
    const cols = (k: number): number => (i === 0 ? config.inputSize : u[k]!);
    const parts: string[] = [];
    for (let j = 0; j < K; j++) {
      const b = levelBlocks(config, u, i, j);
      const on = (d: number, k: number): boolean => i < d && k >= j;
      const x = i === 0 && j === 0 ? h : pad(h, `${p}.in${j}`, (d, k, B) => [0, 0, (on(d, k) ? B : 0) - inRows(d, B), i === 0 ? 0 : u[j]! - cols(k)]);
      initializers.push(b.bias!.name);
      const y = add(mm(x, b.col!.name, `${p}.mm${j}`), b.bias!.name, `${p}.out${j}`);
      parts.push(j === 0 ? y : pad(y, `${p}.seg${j}`, (d, k, B) => [0, 0, rows(i, d, B) - (on(d, k) ? B : 0), k >= j ? 0 : -seg(j)]));
    }
    nodes.push(ops.Concat(parts, 1, `${p}.cat`));
    let sum = `${p}.cat`;
    for (let j = 1; j < K && i > 0; j++) {
      const on = (d: number, k: number): boolean => i < d && k >= j;
      const lo = u[j - 1]!;
      const x = pad(h, `${p}.rin${j}`, (d, k, B) => (k >= j ? [0, -lo, (on(d, k) ? B : 0) - inRows(d, B), u[j]! - u[k]!] : [0, 0, -inRows(d, B), seg(j) - u[k]!]));
      const q = mm(x, levelBlocks(config, u, i, j).row!.name, `${p}.rmm${j}`);
      // Zeros broadcast as one row when level j is off: Add needs no empty operand then.
      sum = add(sum, pad(q, `${p}.rows${j}`, (d, k) => [0, 0, on(d, k) ? 0 : 1, u[k]! - lo]), `${p}.sum${j}`);
    }
    nodes.push(ops.Relu(sum, `${p}.relu`));
    h = `${p}.relu`;
    if (depths.includes(i + 1)) pad(h, `${p}.exit`, (d, _k, B) => [0, 0, d === i + 1 ? 0 : -rows(i, d, B), 0]);
  }
  nodes.push(ops.Concat(depths.map((d) => `layers.${d - 1}.exit`), 0, 'head.in'));
  let logits = '';
  for (let j = 0; j < K; j++) {
    const lo = j ? u[j - 1]! : 0;
    const x = pad('head.in', `head.in${j}`, (_d, k, B) => (k >= j ? [0, -lo, 0, u[j]! - u[k]!] : [0, 0, -B, seg(j) - u[k]!]));
    const y = mm(x, levelBlocks(config, u, -1, j).row!.name, `head.mm${j}`);
    logits = j === 0 ? y : add(logits, pad(y, `head.rows${j}`, (_d, k) => [0, 0, k >= j ? 0 : 1, 0]), `head.sum${j}`);
  }
  initializers.push('head.bias');
  nodes.push(ops.Add(logits, 'head.bias', 'logits'));
  return routed('sortednet_mlp_switch', config, dims, nodes, initializers, slots);
}

/**
 * The graph around the per-call route: a Split of the route input hands each Pad node its 4 pads,
 * computed per subnet and batch size by `slots`.
 */
function routed(name: string, config: MlpConfig, dims: Dims, nodes: GraphNode[], initializers: string[], slots: Pads[], consts = new Map<string, TensorBytes>()): MlpSwitch {
  const K = mlpUnits(config, dims).length;
  const D = Math.max(...(dims.depth ?? [1]));
  const outs = slots.map((_, s) => `${ROUTE}.${s}`);
  const sizes = `${ROUTE}.sizes`;
  nodes.unshift(ops.Split(ROUTE, sizes, outs));
  consts.set(sizes, { dims: [slots.length], dtype: 'int64', bytes: new Uint8Array(BigInt64Array.from(outs, () => 4n).buffer) });
  const io = mlpIo(config);
  return {
    graph: { name, inputs: [...io.inputs, { name: ROUTE, dtype: 'int64', dims: [4 * slots.length] }], outputs: io.outputs, nodes, initializers: [...initializers, ...consts.keys()] },
    consts,
    routeInput: ROUTE,
    route: (levels, batch) => {
      const d = levels.depth ?? D;
      const k = levels.width === undefined ? K - 1 : (dims.width ?? [1]).indexOf(levels.width);
      // Each int64 as two 32-bit halves, low first (ORT's wasm and CPU builds are little-endian), in
      // indexed loops: a BigInt per value, or a for-of iterator, made 9-27 kB of garbage per route.
      const out = new BigInt64Array(4 * slots.length);
      const halves = new Int32Array(out.buffer);
      for (let s = 0; s < slots.length; s++) {
        const pads = slots[s]!(d, k, batch);
        for (let i = 0; i < 4; i++) {
          halves[8 * s + 2 * i] = pads[i]!;
          halves[8 * s + 2 * i + 1] = pads[i]! < 0 ? -1 : 0;
        }
      }
      return out;
    },
  };
}

/**
 * The compact graph: every subnet with the weights once in about as many nodes as one static
 * subnet (22 for 3 depths x 4 widths, against the switch graph's 94), for lean mode under a memory
 * budget that leaves less than the switch session's own overhead beyond the weights. Each layer's
 * full weight (its blocks folded once, when the session is built) runs at full width, and after
 * the ReLU a mask zeroes the columns past the chosen width, so the next layer and the head see
 * exactly the chosen subnet's activations (the zeros add nothing to their sums). Layers past the
 * chosen depth get an empty batch; the head reads the chosen depth's exit. A call costs about the
 * full-width subnet of its depth, whatever its width.
 *
 * The mask (1 x hidden) is a window of the constant [ones | zeros] (1 x 2 hidden), cut per call.
 */
export function mlpCompact(config: MlpConfig, dims: Dims): MlpSwitch {
  const u = mlpUnits(config, dims);
  const H = config.hidden;
  const depths = dims.depth ?? [1];
  const D = Math.max(...depths);
  const full = mlpGraph(config, dims, {});
  // The full subnet's weights: Concat trees over the stored blocks, folded at build.
  const nodes = full.nodes.filter((n) => n.op === 'Concat');
  const weight = (y: string): string => full.nodes.find((n) => n.outputs[0] === y)!.inputs[1]!;
  const slots: Pads[] = [];
  const pad = (x: string, y: string, pads: Pads): string => {
    nodes.push(ops.Pad(x, `${ROUTE}.${slots.length}`, y));
    slots.push(pads);
    return y;
  };
  pad('mask.src', 'mask', (_d, k) => [0, u[k]! - H, 0, -u[k]!]);
  let h = 'input';
  for (let i = 0; i < D; i++) {
    const p = `layers.${i}`;
    // Rows in: all while the chosen depth runs layer i; layer i - 1 had rows while it ran.
    const x = i === 0 ? h : pad(h, `${p}.gate`, (d, _k, B) => [0, 0, i < d ? 0 : i - 1 < d ? -B : 0, 0]);
    nodes.push(ops.MatMul(x, weight(`${p}.matmul`), `${p}.mm`), ops.Add(`${p}.mm`, weight(`${p}.add`), `${p}.add`), ops.Relu(`${p}.add`, `${p}.relu`), ops.Mul(`${p}.relu`, 'mask', `${p}.h`));
    h = `${p}.h`;
    if (depths.includes(i + 1)) pad(h, `${p}.exit`, (d, _k, B) => [0, 0, d === i + 1 || i >= d ? 0 : -B, 0]);
  }
  nodes.push(ops.Concat(depths.map((d) => `layers.${d - 1}.exit`), 0, 'head.in'));
  nodes.push(ops.MatMul('head.in', weight('head.matmul'), 'head.mm'), ops.Add('head.mm', weight('logits'), 'logits'));
  const mask = Float32Array.from({ length: 2 * H }, (_, c) => (c < H ? 1 : 0));
  return routed('sortednet_mlp_compact', config, dims, nodes, full.initializers, slots, new Map([['mask.src', { dims: [1, 2 * H], dtype: 'float32', bytes: new Uint8Array(mask.buffer) }]]));
}
