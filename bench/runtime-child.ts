/**
 * One memory measurement in a fresh process (spawned by bench/runtime.ts): resident memory growth
 * (RSS) per loaded model with every subnet switchable, ÷ the full weights' bytes. RSS is read at
 * steady state, after the runtime has dropped its encode buffer (sessions.ts `withScratch`).
 *
 * The figure is the growth per instance over N more instances loaded after a first one (each
 * holding its own sessions, every subnet run at batch 1 and 32). One instance's growth moves by
 * 2-3 MB between runs on its own (V8's heap, the tsx loader thread's heap and malloc return
 * memory on their own schedule, in steps up to seconds apart): on the 3.7 MB Fashion-MNIST MLP,
 * one lean instance read 1.8-2.2x the weights over runs where 8 more cost 1.36-1.39x each, and
 * a plain standalone session of the full subnet 1.07-1.41x against 1.135x. The first instance's
 * growth, which also holds ORT's one-time costs for the ops this model uses (kernel code pages,
 * per-thread buffers), is reported beside it, with its peak while loading (VmHWM, reset before
 * the load): the file's bytes, the runtime's encode buffer and ORT's copies at once.
 *
 * Run: MALLOC_MMAP_THRESHOLD_=131072 node --expose-gc --import tsx bench/runtime-child.ts <file.onnx> <fast|lean|standalone> <weightBytes> [N] [subnets] [cacheMB]
 * Prints one JSON line: { "mode": "lean", "instances": 4, "rssDeltaBytes": 42000000, "anonDeltaBytes": 41300000, "fileDeltaBytes": 700000, "ratio": 1.04, "firstDeltaBytes": 44000000, "firstRatio": 1.1, "firstPeakBytes": 90000000, "firstPeakRatio": 2.2 }
 *
 * glibc's malloc raises its mmap threshold after a large free, so freed buffers stay resident
 * and RSS drifts by whatever the process happened to allocate last. The fixed threshold above
 * (the same for every mode) makes large frees return to the system, so RSS counts live memory.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import type { GraphNode } from '../runtime/graph.js';
import { SortedModel } from '../runtime/node.js';
import { encodeModel } from '../runtime/onnx.js';
import { SCRATCH_IDLE_MS } from '../runtime/sessions.js';
import { SESSION_OPTIONS } from './runtime-lib.js';

const [file, mode, weightBytes, n, count, cache] = process.argv.slice(2) as [string, 'fast' | 'lean' | 'standalone', string, string?, string?, string?];
/** Lean: the memory budget (`cacheMB`) the runtime mixes static sessions into; none by default. */
const cacheMB = cache === undefined || cache === '' ? undefined : Number(cache);
const instances = Number(n ?? 4);
/** Standalone: the packed model's subnet count, for as many calls as the modes make. */
const subnets = Number(count ?? 1);
const gc = (globalThis as { gc?: () => void }).gc!;
/** Resident bytes from /proc/self/status: anonymous (heap, weights) and file-backed (mapped code). */
const resident = (): { anon: number; file: number } => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { anon: kb('RssAnon'), file: kb('RssFile') };
};
const settle = async (): Promise<{ rss: number; anon: number; file: number }> => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return { rss: process.memoryUsage().rss, ...resident() };
};

/** ORT's one-time costs (kernel registry, MLAS buffers), paid before the baseline is taken. */
async function warmOrt(): Promise<void> {
  const n = 1024;
  const w = new Float32Array(n * n).fill(0.001);
  const node = { op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'], attrs: {} } as GraphNode;
  const model = encodeModel({ name: 'warm', inputs: [{ name: 'x', dtype: 'float32', dims: ['b', n] }], outputs: [{ name: 'y', dtype: 'float32', dims: ['b', n] }], nodes: [node], initializers: ['w'] }, new Map([['w', { dims: [n, n], dtype: 'float32', bytes: new Uint8Array(w.buffer) }]]), { opset: 17, metadata: [] });
  const s = await ort.InferenceSession.create(model, SESSION_OPTIONS);
  for (const b of [1, 32]) await s.run({ x: new ort.Tensor('float32', new Float32Array(b * n), [b, n]) });
  await s.release();
}

async function load(): Promise<{ keep: unknown }> {
  const input = (b: number): Record<string, ort.Tensor> => ({ input: new ort.Tensor('float32', new Float32Array(b * 784), [b, 784]) });
  if (mode === 'standalone') {
    // As many calls as the modes below make (one per subnet and batch size), all on the full subnet.
    const s = await ort.InferenceSession.create(readFileSync(file), SESSION_OPTIONS);
    for (let i = 0; i < subnets; i++) for (const b of [1, 32]) await s.run(input(b));
    return { keep: s };
  }
  const model = await SortedModel.load(file, { ort, mode, calibrate: false, sessionOptions: SESSION_OPTIONS, ...(cacheMB === undefined ? {} : { cacheMB }) });
  for (const s of model.manifest.subnets) for (const b of [1, 32]) await model.run(input(b), { subnet: s.id });
  return { keep: model };
}

/** Peak resident bytes since the last `resetPeak()` (VmHWM; writing 5 to clear_refs resets it, Linux 4.0+). */
const peakRss = (): number => Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) * 1024;
const resetPeak = (): void => writeFileSync('/proc/self/clear_refs', '5');

await warmOrt();
const before = await settle();
resetPeak();
const held = [await load()];
// The first load's peak, encode buffer and the file's bytes included: what a device must have free to load.
const firstPeak = peakRss() - before.rss;
// Steady state: the runtime drops its reusable encode buffer SCRATCH_IDLE_MS after the last build.
await new Promise((r) => setTimeout(r, SCRATCH_IDLE_MS + 100));
const first = await settle();
for (let i = 0; i < instances; i++) held.push(await load());
await new Promise((r) => setTimeout(r, SCRATCH_IDLE_MS + 100));
const after = await settle();
const d = { rss: (after.rss - first.rss) / instances, anon: (after.anon - first.anon) / instances, file: (after.file - first.file) / instances };
console.log(JSON.stringify({
  mode, instances, rssDeltaBytes: d.rss, anonDeltaBytes: d.anon, fileDeltaBytes: d.file, ratio: d.rss / Number(weightBytes),
  firstDeltaBytes: first.rss - before.rss, firstRatio: (first.rss - before.rss) / Number(weightBytes), firstPeakBytes: firstPeak, firstPeakRatio: firstPeak / Number(weightBytes), held: held.every((h) => h.keep !== undefined),
}));
