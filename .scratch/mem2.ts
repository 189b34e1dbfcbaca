import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { encodeModel } from '../runtime/onnx.js';
import type { GraphNode, TensorBytes } from '../runtime/graph.js';
const node = (op: string, inputs: string[], y: string): GraphNode => ({ op, inputs, outputs: [y], attrs: {} } as unknown as GraphNode);
const N = Number(process.env.N ?? 1024);
const mb = (x: number) => (x / 2 ** 20).toFixed(1);
const rss = () => { global.gc!(); return process.memoryUsage().rss; };
function model(n: number): Uint8Array {
  const a = new Float32Array(n * n).map(() => Math.random() - 0.5);
  return encodeModel({ name: 'g', inputs: [{ name: 'x', dtype: 'float32', dims: ['b', n] }], outputs: [{ name: 'y', dtype: 'float32', dims: ['b', n] }], nodes: [node('MatMul', ['x', 'w'], 'y')], initializers: ['w'] }, new Map([['w', { dims: [n, n], dtype: 'float32', bytes: new Uint8Array(a.buffer) }]]), { opset: 17, metadata: [] });
}
const W = Number(process.env.W ?? 8); const t = await ort.InferenceSession.create(model(W)); await t.run({ x: new ort.Tensor("float32", new Float32Array(W), [1, W]) }); await t.release();
const smaps = () => { const s = readFileSync('/proc/self/smaps_rollup', 'utf8'); return s.split('\n').filter((l) => /Rss|Anonymous|Private_Dirty/.test(l)).join(' | '); };
const r0 = rss();
const sessions = [];
for (let i = 0; i < Number(process.env.K ?? 1); i++) {
  const s = await ort.InferenceSession.create(model(N), { intraOpNumThreads: 1 });
  const r1 = rss();
  await s.run({ x: new ort.Tensor('float32', new Float32Array(N), [1, N]) });
  const r2 = rss();
  console.log(`session ${i}: after create ${mb(r1 - r0)} MB, after run ${mb(r2 - r0)} MB; weight ${mb(N * N * 4)} MB each`);
  sessions.push(s);
}
