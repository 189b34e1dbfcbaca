/**
 * Latency estimates: a device model fitted by calibration (ms ≈ overheadMs + msPerMac · MACs ·
 * batch), corrected per subnet by an exponential moving average of observed call times, so
 * selection follows load and CPU throttling by itself. A subnet not observed yet uses the
 * average correction of those that were. The estimate is a high quantile (about p95):
 * `base · (scale + 2 · dev)`, with `scale` the EMA of observed/base and `dev` the EMA of its
 * absolute deviation. Each call is clamped to [1/2, 2] times the current estimate first.
 *
 * @example
 * const est = new LatencyEstimator({ overheadMs: 0.05, msPerMac: 1e-6 });
 * est.observe(subnet, 1, 0.4); // a call took 0.4 ms
 * est.latencyMs(subnet, 1);    // ≈ 0.4 after a few calls
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
  /** Per subnet id: EMA of observed/base time, EMA of its absolute deviation, calls seen. */
  observed: Record<string, { scale: number; dev: number; calls: number }>;
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
  dev: number;
  calls: number;
}

function update(e: Ema | undefined, r: number, prior: number): Ema {
  r = Math.min(Math.max(r, (e?.scale ?? prior) / EMA_CLAMP), (e?.scale ?? prior) * EMA_CLAMP);
  if (!e) return { scale: r, dev: 0.1 * r, calls: 1 };
  const dev = e.dev + EMA_ALPHA * (Math.abs(r - e.scale) - e.dev);
  return { scale: e.scale + EMA_ALPHA * (r - e.scale), dev, calls: e.calls + 1 };
}

export class LatencyEstimator {
  readonly #observed = new Map<string, Ema>();
  #all: Ema | undefined;

  /** `learn: false` keeps estimates at the model's (a fixed `latencyModel`). */
  constructor(readonly model: LatencyModel, saved: Calibration['observed'] = {}, private readonly learn = true) {
    for (const [id, e] of Object.entries(saved)) {
      this.#observed.set(id, { ...e });
      this.#all = update(this.#all, e.scale, e.scale);
    }
  }

  /** The calibrated model's time, before corrections. */
  base(s: SubnetEntry, batch = 1): number {
    return this.model.overheadMs + this.model.msPerMac * s.macs * batch;
  }

  /** About the p95 of a call's time, in ms. */
  latencyMs(s: SubnetEntry, batch = 1): number {
    const e = this.#observed.get(s.id) ?? this.#all ?? { scale: 1, dev: 0 };
    return this.base(s, batch) * (e.scale + 2 * e.dev);
  }

  /** Whether the estimate comes from this subnet's own calls. */
  source(s: SubnetEntry): 'observed' | 'calibration' {
    return this.#observed.has(s.id) ? 'observed' : 'calibration';
  }

  observe(s: SubnetEntry, batch: number, ms: number): void {
    const r = ms / this.base(s, batch);
    if (!this.learn || !(r > 0 && r < Infinity)) return;
    this.#observed.set(s.id, update(this.#observed.get(s.id), r, this.#all?.scale ?? 1));
    this.#all = update(this.#all, r, 1);
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
    if (!num(e?.scale) || !num(e.dev) || !num(e.calls)) fail(`.observed.${id}`, e);
  }
  return top;
}
