/**
 * On-device latency calibration: time the smallest subnet at batch 1 and at a batch whose MACs
 * match the largest subnet, then fit ms ≈ overheadMs + msPerMac · MACs. Only the smallest
 * subnet's bytes are needed, so this works on a file prefix.
 *
 * @example
 * const model = await calibrate((batch) => runSmallest(batch), 1e5, 9e5);
 * // { overheadMs: 0.03, msPerMac: 4e-7 }
 */
import type { LatencyModel } from './select.js';

async function medianMs(run: () => Promise<unknown>, repeats: number): Promise<number> {
  await run(); // warm-up: first runs allocate and prepack
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Largest batch used for calibration, to bound its memory. */
export const MAX_CALIBRATION_BATCH = 64;

export async function calibrate(run: (batch: number) => Promise<unknown>, macs: number, largestMacs: number, repeats = 3): Promise<LatencyModel> {
  const big = Math.max(2, Math.min(MAX_CALIBRATION_BATCH, Math.round(largestMacs / macs)));
  const t1 = await medianMs(() => run(1), repeats);
  const tn = await medianMs(() => run(big), repeats);
  let msPerMac = (tn - t1) / ((big - 1) * macs);
  // Timer noise can make the slope non-positive on tiny models: charge all time to MACs then.
  if (!(msPerMac > 0)) msPerMac = Math.max(tn, 1e-3) / (big * macs);
  return { overheadMs: Math.max(0, t1 - msPerMac * macs), msPerMac };
}
