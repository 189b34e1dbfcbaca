import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import '../../runtime/archs.js';
import { mlpCompact, mlpSwitch } from '../../runtime/graphs/mlp-switch.js';
import { foldConcats, type GraphDef, type TensorBytes } from '../../runtime/graph.js';
import { SortedModel, type OrtLike, type SubnetEntry } from '../../runtime/index.js';
import { SWITCH_OVERHEAD } from '../../runtime/sessions.js';
import { encodeModel } from '../../runtime/onnx.js';
import { tensorBytes } from '../../runtime/subnet.js';
import { switchGraph } from '../../runtime/switch.js';
import type { SwitchGraph } from '../../runtime/graphs/index.js';
import { maxAbsDiff, randomArray, referenceForward, rng } from '../packager/fixture.js';
import { BACKENDS, CKPT, CONFIG, LATENCY, PACKED } from './backends.js';

const { bytes, manifest } = PACKED;
const BATCH = 3;
const x = randomArray(BATCH * CONFIG.inputSize, rng(31));
const feeds = { input: { data: x, dims: [BATCH, CONFIG.inputSize] } };
const MB = 2 ** 20;
const full = manifest.tensors.reduce((a, t) => a + t.length, 0);
const allStatic = manifest.subnets.reduce((a, s) => a + s.bytes, 0);

/** [name, builder, whether bias blocks are read once too (the generic one folds them per width: a few bytes)] */
const BUILDERS: [string, () => SwitchGraph, boolean][] = [
  ['tuned mlp switch graph', () => mlpSwitch(CONFIG, manifest.dims), true],
  ['generic switch graph', () => switchGraph(manifest, manifest.subnets), false],
];

/** Runs `order` on `model` concurrently, one call per subnet, each matching the reference (max abs diff < 1e-4). */
async function runConcurrently(model: SortedModel<OrtLike>, order: readonly SubnetEntry[]): Promise<void> {
  const outs = await Promise.all(order.map((s) => model.run(feeds, { subnet: s.id })));
  order.forEach((s, i) => {
    const d = maxAbsDiff(outs[i]!.logits!.data as Float32Array, referenceForward(CKPT, s.levels, x, BATCH));
    assert.ok(d < 1e-4, `${s.id}: maxdiff ${d}`);
  });
}

/** The graph's own constants and the stored blocks it reads. */
function graphTensors(sw: SwitchGraph): Map<string, TensorBytes> {
  const tensors = new Map(sw.consts);
  for (const n of sw.graph.initializers) if (!tensors.has(n)) tensors.set(n, tensorBytes(manifest, n, bytes, 'm'));
  return tensors;
}

/** One session of `graph` runs every subnet by its route, at batch 1 and BATCH, as the reference does (max abs diff < 1e-4). */
async function checkEverySubnet(sw: SwitchGraph, graph: GraphDef, tensors: Map<string, TensorBytes>): Promise<void> {
  const ort = BACKENDS[0].ort;
  const session = await ort.InferenceSession.create(encodeModel(graph, tensors, { opset: 17, metadata: [] }));
  for (const batch of [1, BATCH]) {
    for (const s of manifest.subnets) {
      const r = sw.route(s.levels, batch);
      const out = await session.run({ input: new ort.Tensor('float32', x.subarray(0, batch * CONFIG.inputSize), [batch, CONFIG.inputSize]), [sw.routeInput]: new ort.Tensor('int64', r, [r.length]) });
      const d = maxAbsDiff(out.logits!.data as Float32Array, referenceForward(CKPT, s.levels, x, batch));
      assert.ok(d < 1e-4, `${s.id} at batch ${batch}: maxdiff ${d}`);
    }
  }
  await session.release();
}

void describe('switch graphs', () => {
  for (const [name, build, biasOnce] of BUILDERS) {
    void it(`${name}: every stored block is read by exactly one MatMul, so ORT prepacks it once`, () => {
      const { graph } = build();
      const stored = new Set(manifest.tensors.map((t) => t.name));
      const readers = new Map<string, string[]>();
      for (const n of graph.nodes) for (const i of n.inputs) if (stored.has(i)) readers.set(i, [...(readers.get(i) ?? []), n.op]);
      assert.deepEqual([...readers.keys()].sort(), [...stored].sort(), 'every block is used');
      for (const [block, ops] of readers) {
        if (block.includes('bias') && !biasOnce) continue;
        assert.equal(ops.length, 1, `${block} read by ${ops.join(', ')}`);
        if (!block.includes('bias')) assert.equal(ops[0], 'MatMul', `${block} feeds a MatMul directly (no Concat copy)`);
      }
    });

    void it(`${name}: every subnet at batch 1 and ${BATCH} equals the reference (max abs diff < 1e-4)`, async () => {
      const sw = build();
      await checkEverySubnet(sw, sw.graph, graphTensors(sw));
    });
  }
});

void describe('compact graph', () => {
  void it('every subnet at batch 1 and 3 equals the reference, in a quarter of the switch graph\'s nodes, each stored block folded in once', async () => {
    const sw = mlpCompact(CONFIG, manifest.dims);
    assert.deepEqual(manifest.tensors.map((t) => t.name).filter((n) => !sw.graph.initializers.includes(n)), [], 'every block is read');
    const tensors = graphTensors(sw);
    const graph = foldConcats(sw.graph, tensors);
    assert.ok(graph.nodes.length * 4 <= mlpSwitch(CONFIG, manifest.dims).graph.nodes.length + 4, `${graph.nodes.length} nodes`);
    await checkEverySubnet(sw, graph, tensors);
  });
});

for (const { name, ort } of BACKENDS) {
  void describe(`modes on ${name}`, () => {
    let lean: SortedModel<typeof ort>;
    before(async () => {
      lean = await SortedModel.load(bytes, { ort, latencyModel: LATENCY, mode: 'lean' });
    });
    after(() => lean.release());

    void it('lean: one session runs every subnet per call, in random order and concurrently', async () => {
      assert.equal(lean.mode, 'lean');
      await runConcurrently(lean, [...manifest.subnets].sort(() => Math.random() - 0.5));
      assert.deepEqual(lean.cachedSubnets, [], 'no static sessions without cacheMB');
      assert.equal(lean.leanGraph, 'switch');
      const small = lean.subnets[0]!;
      const byBudget = await lean.run(feeds, { budget: { latencyMs: LATENCY.overheadMs + LATENCY.msPerMac * small.macs * BATCH } });
      assert.ok(maxAbsDiff(byBudget.logits!.data as Float32Array, referenceForward(CKPT, small.levels, x, BATCH)) < 1e-4);
    });

    void it('fast: every subnet built at once (concurrent builds share no encode buffer) gives its own outputs', async () => {
      const m = await SortedModel.load(bytes, { ort, latencyModel: LATENCY, mode: 'fast', subnet: 'd1-w25' });
      await runConcurrently(m, [...manifest.subnets].reverse());
      assert.equal(m.cachedSubnets.length, manifest.subnets.length);
      await m.release();
    });

    void it('auto picks fast when every static session fits cacheMB, lean when only the full weights fit', async () => {
      const cases: [number | undefined, 'fast' | 'lean'][] = [[undefined, 'fast'], [allStatic / MB, 'fast'], [(full + 1) / MB, 'lean'], [(full - 1) / MB, 'fast']];
      for (const [cacheMB, mode] of cases) {
        const m = await SortedModel.load(bytes, { ort, latencyModel: LATENCY, subnet: 'd1-w25', ...(cacheMB === undefined ? {} : { cacheMB }) });
        assert.equal(m.mode, mode, `cacheMB ${cacheMB}`);
        await m.release();
      }
    });

    void it('lean with room under cacheMB keeps static sessions for the subnets that fit, the switch serves the rest', async () => {
      const [s0, , s2] = manifest.subnets;
      const m = await SortedModel.load(bytes, { ort, latencyModel: LATENCY, mode: 'lean', subnet: s0!.id, cacheMB: (full + SWITCH_OVERHEAD + s0!.bytes) / MB });
      assert.deepEqual(m.cachedSubnets, [s0!.id]);
      const out = await m.run(feeds, { subnet: 'd3-w100' });
      assert.ok(maxAbsDiff(out.logits!.data as Float32Array, referenceForward(CKPT, { depth: 3, width: 1 }, x, BATCH)) < 1e-4);
      await m.run(feeds, { subnet: s2!.id });
      assert.deepEqual(m.cachedSubnets, [s0!.id], `${s2!.id} does not fit the room, so the switch serves it`);
      await m.release();
    });

    void it("lean leaves the switch session's overhead out of the room: weights that fit only without it are not pinned", async () => {
      const [s0] = manifest.subnets;
      const m = await SortedModel.load(bytes, { ort, latencyModel: LATENCY, mode: 'lean', subnet: 'd3-w100', cacheMB: (full + s0!.bytes + SWITCH_OVERHEAD / 2) / MB });
      await m.complete;
      assert.deepEqual(m.cachedSubnets, [], `${s0!.id} fits beside the weights, not beside the weights and the switch overhead`);
      await m.release();
    });

    void it('lean pins its static sessions once: switching between a pinned and an unpinned subnet never rebuilds one', async () => {
      const [s0, s1] = manifest.subnets;
      // The room fits s0 or s1 alone, not both: the smallest (s0) is pinned, s1 runs on the switch.
      const m = await SortedModel.load(bytes, { ort, latencyModel: LATENCY, mode: 'lean', subnet: 'd3-w100', cacheMB: (full + SWITCH_OVERHEAD + s1!.bytes) / MB });
      await m.complete;
      assert.deepEqual(m.cachedSubnets, [s0!.id], 'pinned when the switch session is built');
      for (let i = 0; i < 4; i++) {
        for (const s of [s1!, s0!]) {
          const out = await m.run(feeds, { subnet: s.id });
          assert.ok(maxAbsDiff(out.logits!.data as Float32Array, referenceForward(CKPT, s.levels, x, BATCH)) < 1e-4, s.id);
          assert.deepEqual(m.cachedSubnets, [s0!.id], `after ${s.id}: the same single static session`);
        }
      }
      await m.release();
    });

    void it('lean under a cacheMB below the weights plus the switch overhead runs the compact graph: every subnet, per call, nothing pinned', async () => {
      const m = await SortedModel.load(bytes, { ort, latencyModel: LATENCY, mode: 'lean', cacheMB: (full + SWITCH_OVERHEAD / 2) / MB });
      assert.equal(m.leanGraph, 'compact');
      await runConcurrently(m, [...manifest.subnets].sort(() => Math.random() - 0.5));
      assert.deepEqual(m.cachedSubnets, []);
      await m.release();
      const roomy = await SortedModel.load(bytes, { ort, latencyModel: LATENCY, mode: 'lean', cacheMB: (full + SWITCH_OVERHEAD) / MB });
      assert.equal(roomy.leanGraph, 'switch', 'the switch graph once its overhead fits');
      await roomy.release();
    });

    void it('rejects unknown modes', async () => {
      await assert.rejects(SortedModel.load(bytes, { ort, mode: 'quick' as 'fast' }), /load\(\)\.mode: "quick"\. Fix: use one of 'auto', 'fast', 'lean'/);
    });
  });
}
