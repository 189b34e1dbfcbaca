import * as ort from 'onnxruntime-node';
import { encodeModel } from '../runtime/onnx.js';
import type { GraphNode, TensorBytes } from '../runtime/graph.js';

const node = (op: string, inputs: string[], y: string, attrs: GraphNode['attrs'] = {}): GraphNode => ({ op, inputs, outputs: [y], attrs } as unknown as GraphNode);
const f32 = (dims: number[]): TensorBytes => { const n = dims.reduce((a, b) => a * b, 1); const a = new Float32Array(n).map(() => Math.random() - 0.5); return { dims, dtype: 'float32', bytes: new Uint8Array(a.buffer) }; };
const i64 = (vals: number[]): TensorBytes => ({ dims: [vals.length], dtype: 'int64', bytes: new Uint8Array(BigInt64Array.from(vals.map(BigInt)).buffer) });

async function time(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>, n = 2000): Promise<number> {
  for (let i = 0; i < 200; i++) await s.run(feeds);
  const t: number[] = [];
  for (let i = 0; i < n; i++) { const t0 = performance.now(); await s.run(feeds); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b); return t[n >> 1]! * 1000;
}

for (const N of [0, 50, 200]) {
  const nodes: GraphNode[] = []; const tensors = new Map<string, TensorBytes>(); const inits: string[] = [];
  tensors.set('zero', i64([0])); tensors.set('ax', i64([0])); inits.push('zero', 'ax');
  nodes.push(node('Slice', ['input', 'zero', 'ends', 'ax'], 'xe'));
  const outs: string[] = [];
  for (let i = 0; i < N; i++) {
    const w = `w${i}`; tensors.set(w, f32([64, 64])); inits.push(w);
    nodes.push(node('Slice', ['xe', 'zero', 'ends', 'ax'], `s${i}`));
    nodes.push(node('MatMul', [`s${i}`, w], `m${i}`));
    outs.push(`m${i}`);
  }
  nodes.push(node('Concat', ['input', ...outs], 'out', { axis: { kind: 'int', value: 0 } }));
  const g = { name: 'g', inputs: [{ name: 'input', dtype: 'float32' as const, dims: ['b', 64] }, { name: 'ends', dtype: 'int64' as const, dims: [1] }], outputs: [{ name: 'out', dtype: 'float32' as const, dims: ['n', 64] }], nodes, initializers: inits };
  const s = await ort.InferenceSession.create(encodeModel(g, tensors, { opset: 17, metadata: [] }), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const us = await time(s, { input: new ort.Tensor('float32', new Float32Array(64), [1, 64]), ends: new ort.Tensor('int64', BigInt64Array.from([0n]), [1]) });
  console.log(`N=${N} (2N+2 nodes): ${us.toFixed(1)} us`);
}
