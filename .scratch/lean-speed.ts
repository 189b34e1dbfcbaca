import * as ort from 'onnxruntime-node';
import { packCheckpoint } from '../packager/pack.js';
import { mlpCheckpoint, randomArray, rng, maxAbsDiff } from '../test/packager/fixture.js';
import { subnetModel } from '../runtime/subnet.js';
import { switchModel } from '../runtime/switch.js';

const hidden = Number(process.env.H ?? 2048);
const cfg = { inputSize: 784, hidden, classes: 10 };
const { bytes, manifest } = packCheckpoint(mlpCheckpoint(cfg, { depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] }, 1));
const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' as const };
const { model, sw } = switchModel(manifest, bytes, manifest.subnets, 'm');
console.log(`switch graph: ${sw.graph.nodes.length} nodes, ${sw.route('d1-w25').length} route slots, model ${(model.length / 1e6).toFixed(1)} MB`);
const counts: Record<string, number> = {};
for (const n of sw.graph.nodes) counts[n.op] = (counts[n.op] ?? 0) + 1;
console.log(counts);
const lean = await ort.InferenceSession.create(model, opts);
const statics = new Map<string, ort.InferenceSession>();
for (const s of manifest.subnets) statics.set(s.id, await ort.InferenceSession.create(subnetModel(manifest, bytes, s.id, 'm'), opts));
const routes = new Map(manifest.subnets.map((s) => [s.id, new ort.Tensor('int64', sw.route(s.id), [sw.route(s.id).length])]));
const N = Number(process.env.N ?? 200);
for (const batch of [1, 32]) {
  const x = new ort.Tensor('float32', randomArray(batch * 784, rng(batch)), [batch, 784]);
  const t: Record<string, { st: number[]; le: number[] }> = {};
  for (const s of manifest.subnets) {
    t[s.id] = { st: [], le: [] };
    const a = (await statics.get(s.id)!.run({ input: x })).logits!.data as Float32Array;
    const b = (await lean.run({ input: x, [sw.routeInput]: routes.get(s.id)! })).logits!.data as Float32Array;
    if (maxAbsDiff(a, b) > 1e-4) console.log('MISMATCH', s.id, maxAbsDiff(a, b));
  }
  for (let i = 0; i < N; i++) {
    for (const s of manifest.subnets) {
      let t0 = performance.now();
      await statics.get(s.id)!.run({ input: x });
      t[s.id]!.st.push(performance.now() - t0);
      t0 = performance.now();
      await lean.run({ input: x, [sw.routeInput]: routes.get(s.id)! });
      t[s.id]!.le.push(performance.now() - t0);
    }
  }
  const p50 = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!;
  for (const s of manifest.subnets) {
    const st = p50(t[s.id]!.st), le = p50(t[s.id]!.le);
    console.log(`b${batch} ${s.id.padEnd(8)} static ${(st * 1000).toFixed(0).padStart(6)}us  lean ${(le * 1000).toFixed(0).padStart(6)}us  ratio ${(le / st).toFixed(2)}  (${(s.bytes / 1e6).toFixed(1)} MB)`);
  }
}
