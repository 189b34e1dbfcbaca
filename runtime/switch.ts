/**
 * The switch graph, behind `mode: 'lean'`: every subnet in ONE top-level ORT graph with each
 * stored block resident once, and the subnet chosen per call by a small int64 input. Nodes
 * outside the chosen subnet get an empty batch (a zero-row Slice of their input), so their
 * MatMuls do no work. It works for any arch whose builder nests weights as Concat trees:
 *
 * 1. unfold: `x @ Concat1[A, B] = Concat(-1)[x @ A, x @ B]` and
 *    `x @ Concat0[A, B] = x[..., :rows(A)] @ A + x[..., rows(A):] @ B`, so no weight is concatenated
 *    (ORT would fold each concatenation into a copy);
 * 2. union: the subnets' nodes are merged by value, each node keeping the set of subnets using it;
 * 3. merge: MatMuls on the same block from disjoint sets become one MatMul over the
 *    row-concatenation of their inputs. ORT prepacks a weight once per consuming MatMul, so
 *    this is what keeps memory at one copy;
 * 4. gate: where a node's set is smaller than its input's, the input goes through
 *    `Slice(x, 0, route[set], axis 0)`: all rows when the chosen subnet is in the set, else none.
 *
 * @example
 * const sw = switchGraph(manifest, manifest.subnets);
 * sw.route({ depth: 1, width: 0.25 }, 1); // INT64_MAX for every gate set holding d1-w25, else 0
 */
import { ops, type AttrValue, type GraphNode, type TensorBytes } from './graph.js';
import { subnetGraph, type SwitchGraph } from './graphs/index.js';
import type { Levels, Manifest, SubnetEntry } from './manifest-types.js';

/** A constant built from stored blocks: a block name or a Concat over subtrees. */
type Tree = string | { axis: number; parts: Tree[]; dims: number[] };

interface UNode {
  node: GraphNode;
  /** Indexes of the subnets that use the node, as a sorted key ("0,3,4"). */
  set: Set<number>;
  batched: boolean;
}

export const ROUTE_INPUT = 'sortednet.route';
const ALL_ROWS = 2n ** 63n - 1n;
const int = (value: number): AttrValue => ({ kind: 'int', value });
const setKey = (s: Set<number>): string => [...s].sort((a, b) => a - b).join();
const levelsKey = (l: Levels): string => JSON.stringify(Object.entries(l).sort());

export function switchGraph(manifest: Manifest, subnets: readonly SubnetEntry[]): SwitchGraph {
  const dims = new Map(manifest.tensors.map((t) => [t.name, t.dims]));
  const consts = new Map<string, TensorBytes>();
  const nodes = new Map<string, UNode>();
  const byKey = new Map<string, string>();
  const used = new Set(manifest.outputs.map((o) => o.name));
  const batchedInputs = new Set(manifest.inputs.filter((i) => typeof i.dims[0] === 'string').map((i) => i.name));
  const fresh = (hint: string): string => {
    let name = hint;
    for (let n = 1; used.has(name); n++) name = `${hint}~${n}`;
    used.add(name);
    return name;
  };
  const i64 = (values: number[]): string => {
    const name = `sortednet.i64[${values}]`;
    consts.set(name, { dims: [values.length], dtype: 'int64', bytes: new Uint8Array(BigInt64Array.from(values, BigInt).buffer) });
    return name;
  };
  const batched = (v: string): boolean => batchedInputs.has(v) || nodes.get(v)?.batched === true;

  /** Add (or find) a node for subnet `s`; returns its output value. */
  const emit = (s: number, op: string, inputs: string[], attrs: GraphNode['attrs'], hint: string): string => {
    const key = `${op}${JSON.stringify(attrs)}(${inputs.join('\0')})`;
    let v = byKey.get(key);
    if (v === undefined) {
      v = fresh(hint);
      byKey.set(key, v);
      nodes.set(v, { node: { op, inputs, outputs: [v], attrs } as GraphNode, set: new Set(), batched: op !== 'Shape' && inputs.some(batched) });
    }
    nodes.get(v)!.set.add(s);
    return v;
  };
  const rows = (t: Tree): number => (typeof t === 'string' ? dims.get(t)![0]! : t.dims[0]!);
  const constant = (s: number, t: Tree): string => (typeof t === 'string' ? t : emit(s, 'Concat', t.parts.map((p) => constant(s, p)), { axis: int(t.axis) }, 'sortednet.const'));
  const slice = (s: number, x: string, lo: number, hi: number, size: number): string =>
    lo === 0 && hi === size ? x : emit(s, 'Slice', [x, i64([lo]), i64([hi]), i64([-1])], {}, `${x}[${lo}:${hi}]`);
  /** x[..., lo:hi] @ t, with the weight concatenations turned into activation ops. */
  const unfold = (s: number, x: string, lo: number, hi: number, size: number, t: Tree, hint: string): string => {
    if (typeof t === 'string' || t.dims.length !== 2) return emit(s, 'MatMul', [slice(s, x, lo, hi, size), constant(s, t)], {}, hint);
    if (t.axis === 1) return emit(s, 'Concat', t.parts.map((p) => unfold(s, x, lo, hi, size, p, hint)), { axis: int(-1) }, `${hint}.cat`);
    let sum: string | undefined;
    for (const p of t.parts) {
      const y = unfold(s, x, lo, lo + rows(p), size, p, hint);
      sum = sum === undefined ? y : emit(s, 'Add', [sum, y], {}, `${hint}.sum`);
      lo += rows(p);
    }
    return sum!;
  };

  // 1-2. Unfold each subnet's graph and merge them by value.
  const outputs = subnets.map((subnet, s) => {
    const g = subnetGraph(manifest, subnet.levels);
    const trees = new Map<string, Tree>(g.initializers.map((n) => [n, n]));
    const local = new Map<string, string>();
    const val = (x: string): string => (trees.has(x) ? constant(s, trees.get(x)!) : local.get(x) ?? x);
    for (const n of g.nodes) {
      const [y] = n.outputs as [string];
      const parts = n.inputs.map((i) => trees.get(i));
      if (n.outputs.length !== 1) throw new Error(`switch graph: ${n.op} -> ${n.outputs.join()} has several outputs`);
      if (n.op === 'Concat' && parts.every((p) => p !== undefined)) {
        const axis = (n.attrs.axis as { value: number }).value;
        const ds = parts.map((p) => (typeof p === 'string' ? dims.get(p)! : p!.dims));
        const d = [...ds[0]!];
        d[axis] = ds.reduce((a, x) => a + x[axis]!, 0);
        trees.set(y, { axis, parts: parts as Tree[], dims: d });
      } else if (n.op === 'MatMul' && parts[1] !== undefined) {
        const t = parts[1];
        local.set(y, unfold(s, val(n.inputs[0]!), 0, rows(t), rows(t), t, y));
      } else {
        local.set(y, emit(s, n.op, n.inputs.map(val), n.attrs, y));
      }
    }
    return manifest.outputs.map((o) => local.get(o.name)!);
  });

  // 4 (used by 3). Gates: Slice rows to a set's route value.
  const routes = new Map<string, { index: number; set: Set<number> }>();
  const special = new Set<string>();
  const routeValue = (set: Set<number>): string => {
    const k = setKey(set);
    if (!routes.has(k)) routes.set(k, { index: routes.size, set });
    return `${ROUTE_INPUT}.${routes.get(k)!.index}`;
  };
  const rowsOf = (x: string, set: Set<number>, y: string): UNode => ({ node: ops.Slice(x, i64([0]), routeValue(set), i64([0]), y), set, batched: true });
  const gate = (x: string, set: Set<number>): string => {
    const from = nodes.get(x);
    if (!batched(x) || (from ? setKey(from.set) === setKey(set) : set.size === subnets.length)) return x;
    const g = `${x}@${routeValue(set).slice(ROUTE_INPUT.length + 1)}`;
    if (!nodes.has(g)) {
      used.add(g);
      nodes.set(g, rowsOf(x, set, g));
      special.add(g);
    }
    return g;
  };

  // 3. One MatMul per stored block: merge consumers with disjoint sets.
  const byBlock = new Map<string, string[]>();
  for (const [v, u] of nodes) if (u.node.op === 'MatMul' && dims.has(u.node.inputs[1]!)) byBlock.set(u.node.inputs[1]!, [...(byBlock.get(u.node.inputs[1]!) ?? []), v]);
  for (const [block, users] of byBlock) {
    const buckets: { vs: string[]; set: Set<number> }[] = [];
    for (const v of users) {
      const set = nodes.get(v)!.set;
      const b = buckets.find((x) => [...set].every((i) => !x.set.has(i)));
      if (!b) buckets.push({ vs: [v], set: new Set(set) });
      else {
        b.vs.push(v);
        set.forEach((i) => b.set.add(i));
      }
    }
    for (const b of buckets.filter((x) => x.vs.length > 1)) {
      const cat = fresh(`${block}.in`);
      const mm = fresh(`${block}.out`);
      nodes.set(cat, { node: ops.Concat(b.vs.map((v) => gate(nodes.get(v)!.node.inputs[0]!, nodes.get(v)!.set)), 0, cat), set: b.set, batched: true });
      nodes.set(mm, { node: ops.MatMul(cat, block, mm), set: b.set, batched: true });
      for (const v of b.vs) nodes.set(v, rowsOf(mm, nodes.get(v)!.set, v));
      [cat, mm, ...b.vs].forEach((x) => special.add(x));
    }
  }
  for (const [v, u] of [...nodes]) if (!special.has(v)) u.node.inputs = u.node.inputs.map((x) => gate(x, u.set));

  // Outputs: each subnet's output gated to that subnet alone, concatenated along the batch.
  const finals = manifest.outputs.map((o, k) => ops.Concat(outputs.map((out, s) => gate(out[k]!, new Set([s]))), 0, o.name));
  const split = ops.Split(ROUTE_INPUT, i64(Array(routes.size).fill(1)), [...routes.values()].map((r) => `${ROUTE_INPUT}.${r.index}`));
  const order: GraphNode[] = [split];
  const done = new Set<string>([ROUTE_INPUT, ...split.outputs]);
  const visit = (v: string): void => {
    const u = nodes.get(v);
    if (done.has(v) || !u) return;
    done.add(v);
    u.node.inputs.forEach(visit);
    order.push(u.node);
  };
  finals.forEach((f) => f.inputs.forEach(visit));
  order.push(...finals);
  const initializers = [...new Set(order.flatMap((n) => n.inputs.filter((i) => dims.has(i))))];
  const index = new Map(subnets.map((s, i) => [levelsKey(s.levels), i]));
  return {
    graph: {
      name: `sortednet_${manifest.arch}_switch`,
      inputs: [...manifest.inputs, { name: ROUTE_INPUT, dtype: 'int64', dims: [routes.size] }],
      outputs: manifest.outputs,
      nodes: order,
      initializers: [...initializers, ...consts.keys()],
    },
    consts,
    routeInput: ROUTE_INPUT,
    route: (levels) => BigInt64Array.from(routes.values(), (r) => (r.set.has(index.get(levelsKey(levels))!) ? ALL_ROWS : 0n)),
  };
}

