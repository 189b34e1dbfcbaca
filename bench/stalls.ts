/**
 * Why a p95 of sub-0.1 ms calls is unstable on this machine: the calls that take more than
 * twice the median, how often they come and how far apart in time. Plain onnxruntime-node on
 * extracted standalone subnets of the Fashion-MNIST MLP, one thread, no runtime in the way;
 * a pure-JS busy loop and a bare setImmediate hop beside them as references.
 *
 * When slow calls come at a fixed period P (a timer tick) and each costs about S, a call of
 * length d is hit with probability about (d + S) / P. Where that crosses 5 %, a subnet's p95
 * jumps from about d to about d + S, and two measurements of the same subnet can land on either
 * side: the budget benchmark's ground truth flips with them.
 *
 * Run: npm run bench:stalls [-- --calls N]   (nothing else running)
 * Writes bench/results/stalls.json and prints it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { percentile, prepareModel, round, SESSION_OPTIONS } from './runtime-lib.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '20000' } } });
const calls = Number(values.calls);
if (!Number.isInteger(calls) || calls < 100) throw new Error(`bench/stalls.ts --calls: ${values.calls}; use a whole number >= 100`);

/** Time `calls` awaited calls; summarise the slow ones (over 2x the median). */
async function stalls(f: () => unknown): Promise<Record<string, number>> {
  const ms: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await f();
    const t1 = performance.now();
    ms.push(t1 - t0);
    end.push(t1);
  }
  const p50 = percentile(ms, 0.5);
  const slow = ms.flatMap((v, i) => (v > 2 * p50 ? [i] : []));
  const gaps = slow.slice(1).map((i, k) => end[i]! - end[slow[k]!]!);
  const extra = slow.map((i) => ms[i]! - p50);
  /** A quantile of `xs`, rounded; NaN (null in the JSON) when there is none. */
  const q = (xs: number[], p: number, digits: number): number => (xs.length ? round(percentile(xs, p), digits) : NaN);
  return {
    p50_ms: round(p50, 4), p95_ms: q(ms, 0.95, 4), p99_ms: q(ms, 0.99, 4),
    slow_share: round(slow.length / calls, 4),
    slow_gap_p10_ms: q(gaps, 0.1, 3), slow_gap_p50_ms: q(gaps, 0.5, 3), slow_gap_p90_ms: q(gaps, 0.9, 3),
    slow_extra_p50_ms: q(extra, 0.5, 4),
  };
}

const m = await prepareModel('fmnist');
const out: Record<string, unknown> = { date: new Date().toISOString(), calls };
for (const id of [m.manifest.subnets[0]!.id, 'd2-w50', m.manifest.subnets.at(-1)!.id]) {
  const session = await ort.InferenceSession.create(m.standalone.get(id)!, SESSION_OPTIONS);
  const feeds = { input: new ort.Tensor('float32', new Float32Array(784), [1, 784]) };
  out[`ort_${id}`] = await stalls(() => session.run(feeds));
  await session.release();
}
let sink = 0;
out.busy_loop = await stalls(() => {
  for (let k = 0; k < 20000; k++) sink += k;
});
out.set_immediate = await stalls(() => new Promise((r) => setImmediate(r)));
if (sink < 0) console.error(sink);
const dir = fileURLToPath(new URL('results/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'stalls.json'), `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
