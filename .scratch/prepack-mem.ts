import * as ort from 'onnxruntime-node';
import { encodeModel } from '../runtime/onnx.js';
import type { GraphNode, TensorBytes } from '../runtime/graph.js';
const node = (op: string, inputs: string[], y: string, attrs: GraphNode['attrs'] = {}): GraphNode => ({ op, inputs, outputs: [y], attrs } as unknown as GraphNode);
const f32 = (dims: number[]): TensorBytes => { const n = dims.reduce((a, b) => a * b, 1); const a = new Float32Array(n).map(() => Math.random() - 0.5); return { dims, dtype: 'float32', bytes: new Uint8Array(a.buffer) }; };
const consumers = Number(process.argv[2]); const N = Number(process.env.N ?? 2048);
const prepack = process.argv[3] !== 'noprepack';
const mb = (x: number) => (x / 2 ** 20).toFixed(1);
// warm ORT
{
  const tiny = encodeModel({ name: 'g', inputs: [{ name: 'input', dtype: 'float32', dims: ['b', 2048] }], outputs: [{ name: 'out', dtype: 'float32', dims: ['b', 1] }], nodes: [node('MatMul', ['input', 'w'], 'out')], initializers: ['w'] }, new Map([['w', f32([2048, 1])]]), { opset: 17, metadata: [] });
  const t = await ort.InferenceSession.create(tiny); await t.run({ input: new ort.Tensor('float32', new Float32Array(2048), [1, 2048]) }); await t.release();
}
global.gc!();
const r0 = process.memoryUsage().rss;
async function build() {
  const nodes: GraphNode[] = []; const tensors = new Map<string, TensorBytes>();
  tensors.set('w', f32([N, N]));
  const outs: string[] = []; const inputs = [];
  for (let i = 0; i < consumers; i++) { inputs.push({ name: `in${i}`, dtype: 'float32' as const, dims: ['b', N] }); nodes.push(node('MatMul', [`in${i}`, 'w'], `m${i}`)); outs.push(`m${i}`); }
  nodes.push(node('Concat', outs, 'out', { axis: { kind: 'int', value: 0 } }));
  const g = { name: 'g', inputs, outputs: [{ name: 'out', dtype: 'float32' as const, dims: ['n', N] }], nodes, initializers: ['w'] };
  const bytes = encodeModel(g, tensors, { opset: 17, metadata: [] });
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, ...(process.env.NOARENA ? { enableCpuMemArena: false, enableMemPattern: false } : {}), extra: { session: { disable_prepacking: prepack ? '0' : '1' } } });
  const feeds: Record<string, ort.Tensor> = {}; for (let i = 0; i < consumers; i++) feeds[`in${i}`] = new ort.Tensor('float32', new Float32Array(N), [1, N]);
  await s.run(feeds);
  (globalThis as any).keep = s;
}
await build();
global.gc!(); await new Promise((r) => setTimeout(r, 50)); global.gc!();
const r1 = process.memoryUsage().rss;
const mu = process.memoryUsage(); console.log(`ab=${mb(mu.arrayBuffers)} ext=${mb(mu.external)} heap=${mb(mu.heapUsed)} `); console.log(`consumers=${consumers} prepack=${prepack}: rss delta ${mb(r1 - r0)} MB (weight 16 MB)`);
