import * as ort from 'onnxruntime-node';
import { packCheckpoint } from '../packager/pack.js';
import { mlpCheckpoint, randomArray, rng, maxAbsDiff } from '../test/packager/fixture.js';
import { subnetModel, tensorBytes } from '../runtime/subnet.js';
import { mlpSwitch } from '../runtime/graphs/mlp-switch.js';
import { encodeModel } from '../runtime/onnx.js';

const hidden = Number(process.env.H ?? 2048);
const cfg = { inputSize: 784, hidden, classes: 10 };
const { bytes, manifest } = packCheckpoint(mlpCheckpoint(cfg, { depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] }, 1));
const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' as const };
const sw = mlpSwitch(cfg, manifest.dims);
const tensors = new Map(sw.consts);
for (const n of sw.graph.initializers) if (!tensors.has(n)) tensors.set(n, tensorBytes(manifest, n, bytes, 'm'));
const model = encodeModel(sw.graph, tensors, { opset: 17, metadata: [] });
console.log(`switch graph: ${sw.graph.nodes.length} nodes, model ${(model.length / 1e6).toFixed(1)} MB`);
const lean = await ort.InferenceSession.create(model, opts);
const statics = new Map<string, ort.InferenceSession>();
for (const s of manifest.subnets) statics.set(s.id, await ort.InferenceSession.create(subnetModel(manifest, bytes, s.id, 'm'), opts));
const N = Number(process.env.N ?? 200);
for (const batch of [1, 32]) {
  const routes = new Map(manifest.subnets.map((s) => { const r = sw.route(s.levels, batch); return [s.id, new ort.Tensor('int64', r, [r.length])]; }));
  const x = new ort.Tensor('float32', randomArray(batch * 784, rng(batch)), [batch, 784]);
  const t: Record<string, { st: number[]; le: number[] }> = {};
  for (const s of manifest.subnets) {
    t[s.id] = { st: [], le: [] };
    const a = (await statics.get(s.id)!.run({ input: x })).logits!;
    const b = (await lean.run({ input: x, [sw.routeInput]: routes.get(s.id)! })).logits!;
    if (maxAbsDiff(a.data as Float32Array, b.data as Float32Array) > 1e-4 || a.dims.join() !== b.dims.join()) console.log('MISMATCH', s.id, maxAbsDiff(a.data as Float32Array, b.data as Float32Array), b.dims);
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
