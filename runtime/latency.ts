/**
 * Latency estimates: a device model fitted by calibration (ms ≈ overheadMs + msPerMac · MACs ·
 * batch), corrected per subnet by what its calls took, so selection follows load and CPU
 * throttling by itself. Per subnet, with r = observed / base:
 * - `scale`: the exponential moving average of r (each call first clamped to [1/2, 2] times it,
 *   so one stall moves it by at most 20 %, and a lasting 4x slowdown is followed within about
 *   8 calls);
 * - `spread`: a moving p95 of r / scale, in [1, 3]: up by 0.95 · EMA_ALPHA when a call is slower
 *   than scale · spread, down by 0.05 · EMA_ALPHA otherwise, so 5 % of calls end up above it.
 * The estimate is `base · scale · spread`, about the p95 of recent calls. A subnet not observed
 * yet uses the corrections of all calls.
 *
 * @example
 * const est = new LatencyEstimator({ overheadMs: 0.05, msPerMac: 1e-6 });
 * est.observe(subnet, 1, 0.4); // a call took 0.4 ms
 * est.latencyMs(subnet, 1);    // about the p95 of recent calls, ≈ 0.4 ms
 * JSON.stringify(est.calibration()); // save it; load(src, { ort, calibration }) reuses it
 */
import { rejectUnknownKeys, SortedNetError } from './errors.js';
import type { SubnetEntry } from './manifest-types.js';

/** Latency per call ≈ overheadMs + msPerMac · MACs · batch. */
export interface LatencyModel {
  overheadMs: number;
  msPerMac: number;
}

/** What calibration measured and calls taught, as JSON; pass it back to `load()` to skip calibration. */
export interface Calibration {
  format: 'sortednet-calibration';
  version: 1;
  latency: LatencyModel;
  /** Per subnet id: moving average of observed/base time, its p95 as a multiple of it, calls seen. */
  observed: Record<string, { scale: number; spread: number; calls: number }>;
}

/** Weight of the newest call in the moving averages. */
export const EMA_ALPHA = 0.2;
/**
 * A call counts as at most this many times the current estimate (and at least its inverse), so
 * one stall (GC, a descheduled thread) moves the estimate by 20 %, not 100x; a lasting change
 * (a 4x CPU throttle) is followed within about 8 calls.
 */
export const EMA_CLAMP = 2;

interface Ema {
  scale: number;
  spread: number;
  calls: number;
}

function update(e: Ema | undefined, r: number, prior: Ema | undefined): Ema {
  const base = e ?? prior;
  const c = base ? Math.min(Math.max(r, base.scale / EMA_CLAMP), base.scale * EMA_CLAMP) : r;
  if (!e) return { scale: c, spread: prior?.spread ?? 1.2, calls: 1 };
  const spread = Math.min(3, Math.max(1, e.spread + EMA_ALPHA * (r > e.scale * e.spread ? 0.95 : -0.05)));
  return { scale: e.scale + EMA_ALPHA * (c - e.scale), spread, calls: e.calls + 1 };
}

export class LatencyEstimator {
  readonly #observed = new Map<string, Ema>();
  #all: Ema | undefined;

  /** `learn: false` keeps estimates at the model's (a fixed `latencyModel`). */
  constructor(readonly model: LatencyModel, saved: Calibration['observed'] = {}, private readonly learn = true) {
    for (const [id, e] of Object.entries(saved)) {
      this.#observed.set(id, { ...e });
      this.#all = update(this.#all, e.scale, e);
    }
  }

  /** The calibrated model's time, before corrections. */
  base(s: SubnetEntry, batch = 1): number {
    return this.model.overheadMs + this.model.msPerMac * s.macs * batch;
  }

  /** About the p95 of a call's time, in ms. */
  latencyMs(s: SubnetEntry, batch = 1): number {
    const e = this.#observed.get(s.id) ?? this.#all ?? { scale: 1, spread: 1 };
    return this.base(s, batch) * e.scale * e.spread;
  }

  /** Whether the estimate comes from this subnet's own calls. */
  source(s: SubnetEntry): 'observed' | 'calibration' {
    return this.#observed.has(s.id) ? 'observed' : 'calibration';
  }

  observe(s: SubnetEntry, batch: number, ms: number): void {
    const r = ms / this.base(s, batch);
    if (!this.learn || !(r > 0 && r < Infinity)) return;
    this.#observed.set(s.id, update(this.#observed.get(s.id), r, this.#all));
    this.#all = update(this.#all, r, undefined);
  }

  calibration(): Calibration {
    return { format: 'sortednet-calibration', version: 1, latency: { ...this.model }, observed: Object.fromEntries(this.#observed) };
  }
}

/** Check a saved calibration (the JSON of `model.calibration`); returns it typed. */
export function checkCalibration(c: unknown, where = 'load().calibration'): Calibration {
  const fail = (field: string, found: unknown): never => {
    throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: `${where}${field}`, found: JSON.stringify(found), fix: 'pass the value of model.calibration (or JSON.parse of it) unchanged' });
  };
  const num = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v < Infinity;
  const top = c as Calibration;
  if (typeof top !== 'object' || top === null) fail('', top);
  rejectUnknownKeys(top, ['format', 'version', 'latency', 'observed'], { file: '<api>', field: where, code: 'BAD_OPTION' });
  if (top.format !== 'sortednet-calibration' || top.version !== 1) fail('.format', top.format);
  if (typeof top.latency !== 'object' || top.latency === null) fail('.latency', top.latency);
  rejectUnknownKeys(top.latency, ['overheadMs', 'msPerMac'], { file: '<api>', field: `${where}.latency`, code: 'BAD_OPTION' });
  if (!num(top.latency.overheadMs) || !num(top.latency.msPerMac)) fail('.latency', top.latency);
  for (const [id, e] of Object.entries(top.observed ?? fail('.observed', top.observed))) {
    if (!num(e?.scale) || !num(e.spread) || !num(e.calls)) fail(`.observed.${id}`, e);
  }
  return top;
}
