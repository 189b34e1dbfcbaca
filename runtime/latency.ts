/**
 * Latency estimates that keep learning from calls. A budget asks for a latency that calls meet
 * (almost) every time, so the estimate is a high quantile, not a mean:
 *
 * - Per subnet and batch size, a window of the last WINDOW call times (as the caller sees them);
 *   the estimate is their 95th percentile, exactly what a benchmark of those calls reports, or
 *   the median of the latest RECENT calls when that is higher. One stall moves nothing; a lasting
 *   slowdown (load, CPU throttling) shows after 5 slow calls, and selection then moves to a
 *   smaller subnet.
 * - Subnets (or batch sizes) with fewer than MIN_CALLS calls use the calibrated device model,
 *   `overheadMs + msPerMac · MACs · batch`, times the estimate/model ratio of the latest observed one.
 * - A window with no call for STALE_MS is stale: its subnet is estimated as if unobserved (so
 *   the device's current speed, seen through the subnet in use, carries over), and its next
 *   call starts the window afresh. Without this, a subnet left behind during a slowdown would
 *   keep its slow estimate, and selection would never return to it once the slowdown ended.
 *
 * @example
 * const est = new LatencyEstimator({ overheadMs: 0.05, msPerMac: 1e-6 });
 * for (const ms of [0.4, 0.41, 0.39, 0.4, 0.42]) est.observe(subnet, 1, ms);
 * est.latencyMs(subnet, 1);    // 0.42: the p95 of those calls
 * JSON.stringify(est.calibration()); // save it; load(src, { ort, calibration }) reuses it
 */
import { rejectUnknownKeys, raise } from './errors.js';
import type { SubnetEntry } from './manifest-types.js';

/** Latency per call ≈ overheadMs + msPerMac · MACs · batch. */
export interface LatencyModel {
  overheadMs: number;
  msPerMac: number;
}

/** What calibration measured and calls taught, as JSON; pass it back to `load()` to skip calibration. */
export interface Calibration {
  format: 'sortednet-calibration';
  version: 2;
  latency: LatencyModel;
  /** Per `subnetId@batch`: the latest call times in ms (at most WINDOW). */
  observed: Record<string, number[]>;
}

/** Calls kept per subnet and batch size. */
export const WINDOW = 200;
/** Calls a subnet needs at a batch size before its own times are its estimate. */
export const MIN_CALLS = 5;
/** A window whose latest call is older than this (ms) no longer speaks for its subnet. */
export const STALE_MS = 30_000;

/**
 * The last WINDOW call times of one subnet at one batch size, in a ring (`xs`, next write at
 * `added % WINDOW`) and sorted (the first `count(w)` of `sorted`, as of `synced` samples), in
 * typed arrays: no allocation per call. A call only writes its time into the ring; the sorted
 * copy catches up when an estimate is read (one insertion when a single call came since, as
 * with a budget on every call; else a sort of at most WINDOW numbers, a few µs).
 */
interface Window {
  xs: Float64Array;
  sorted: Float64Array;
  /** Samples ever added. */
  added: number;
  /** Samples `sorted` reflects. */
  synced: number;
  /** The sample the latest add overwrote (the window was full). */
  dropped: number;
  /** When the latest was added (the estimator's clock). */
  at: number;
}

/** Samples held. */
const count = (w: Window): number => Math.min(w.added, WINDOW);

/** Index of the first of the `n` sorted samples that is not below `x`. */
function search(s: Float64Array, n: number, x: number): number {
  let [lo, hi] = [0, n];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Add `x`, dropping the oldest sample when the window is full. Windows start small and double up
 * to WINDOW as calls arrive (in call order until full, so growing copies them as they are): every
 * subnet and batch size seen has one, and most see a few calls (at full size from the start, a
 * window is 3.2 kB; 24 of them were 2 % of the small benchmark MLP's weights per model).
 */
function add(w: Window, x: number): void {
  if (w.added === w.xs.length && w.added < WINDOW) {
    const grow = (a: Float64Array): Float64Array => {
      const b = new Float64Array(Math.min(WINDOW, 2 * a.length));
      b.set(a);
      return b;
    };
    w.xs = grow(w.xs);
    w.sorted = grow(w.sorted);
  }
  const i = w.added++ % WINDOW;
  w.dropped = w.xs[i]!;
  w.xs[i] = x;
}

/** Bring `sorted` up to date with the ring. */
function sync(w: Window): void {
  const n = count(w);
  const s = w.sorted;
  if (w.synced === w.added - 1) {
    // One call since: drop the sample it overwrote (a full window), then insert it among the other n - 1.
    if (w.synced >= WINDOW) {
      const old = search(s, n, w.dropped);
      s.copyWithin(old, old + 1, n);
    }
    const x = w.xs[w.synced % WINDOW]!;
    const at = search(s, n - 1, x);
    s.copyWithin(at + 1, at, n - 1);
    s[at] = x;
  } else if (w.synced !== w.added) {
    s.set(w.xs.subarray(0, n));
    s.subarray(0, n).sort();
  }
  w.synced = w.added;
}

/** The q-quantile: the smallest sample with at least q of the samples at or below it. */
function quantile(w: Window, q: number): number {
  sync(w);
  return w.sorted[Math.max(0, Math.ceil(q * count(w)) - 1)]!;
}

/**
 * Latest calls whose median (the lower middle: 5 of 8 calls) stands in for the p95 when it is
 * higher. Replaying recorded calls of the full benchmark MLPs slowed 4x, the p95 alone rose 1.5x
 * after 11 calls, and 3x after 11 (large model) or 44-73 (small one, whose steady p95 sits among
 * this VM's stalls); with the median of the latest 8, 1.5x after 5 calls, and 3x after 5 on the
 * large one. In steady state 5 of 8 calls above the p95 is rare (one call in 20 is; about 1 in
 * 50,000 reads).
 */
const RECENT = 8;
const recent = new Float64Array(RECENT);

/** The window's estimate: its p95, or the median of its latest RECENT calls if higher. */
function estimate(w: Window): number {
  const p95 = quantile(w, 0.95);
  const n = Math.min(RECENT, w.added);
  const m = (n - 1) >> 1; // the median's place among the n, ascending
  // The median is above the p95 only when more than m of the n are: sort just those (read on
  // every call with a budget; in steady state none or one is above).
  let k = 0;
  for (let i = 0; i < n; i++) {
    const x = w.xs[(w.added - 1 - i) % WINDOW]!; // call c sits at c % WINDOW in the ring
    if (!(x > p95)) continue;
    let j = k++;
    for (; j > 0 && recent[j - 1]! > x; j--) recent[j] = recent[j - 1]!;
    recent[j] = x;
  }
  return k > n - 1 - m ? recent[m - (n - k)]! : p95;
}

/** Calls observe() queues before they go into their windows. */
const QUEUE = 64;

/** A subnet's latest batch size and its window. */
interface Latest {
  s: SubnetEntry;
  batch: number;
  w: Window;
}

export class LatencyEstimator {
  readonly #windows = new Map<string, Window>();
  /**
   * Calls not yet in their windows. A call only queues its time (a few stores into the same two
   * arrays every call, which stay in the CPU caches while ORT streams the weights through them);
   * the windows take the queue when an estimate is read or QUEUE calls wait. Taking a call is a
   * lookup of its subnet's latest window and a store into its ring; the sorted copy catches up
   * when an estimate is read. Until 2026-12-05 the queue was taken with a sorted insertion per
   * call: the 64th call ran tens of µs slower, and with this VM's stalls (4-5 % of short calls)
   * that extra 1.6 % of slow calls put the p95 a caller measures up to 10-19 µs above the
   * runtime's own estimate of the same calls on the small benchmark MLP (0.5-0.6 µs at the median
   * subnet now).
   */
  readonly #queued: SubnetEntry[] = [];
  /** Per queued call: batch, time (ms) and when (the clock), in preallocated arrays (no object per call). */
  readonly #q = new Float64Array(3 * QUEUE);
  /** Per subnet, the batch size and window of its latest call: calls mostly repeat both, so no key is built. */
  readonly #latest = new Map<SubnetEntry, Latest>();
  /** The latest observed subnet with MIN_CALLS calls: its estimate ÷ model time corrects the estimates of unobserved ones. */
  #ratioFrom?: Latest;

  readonly #learn: boolean;
  readonly #now: () => number;

  /**
   * `saved`: a calibration's call times (fresh as of now); `learn: false` keeps estimates at the
   * model's (a fixed `latencyModel`); `now`: the clock in ms.
   */
  constructor(readonly model: LatencyModel, saved?: Pick<Calibration, 'observed'>, learn = true, now = () => performance.now()) {
    this.#learn = learn;
    this.#now = now;
    for (const [key, xs] of Object.entries(saved?.observed ?? {})) for (const x of xs) add(this.#window(key), x);
  }

  /** The window of `key`, emptied first if it went stale. */
  #window(key: string, now = this.#now()): Window {
    let w = this.#windows.get(key);
    if (!w || now - w.at > STALE_MS) this.#windows.set(key, (w = { xs: new Float64Array(8), sorted: new Float64Array(8), added: 0, synced: 0, dropped: 0, at: now }));
    w.at = now;
    return w;
  }

  /** The calibrated model's time, before corrections. */
  base(s: SubnetEntry, batch = 1): number {
    return this.model.overheadMs + this.model.msPerMac * s.macs * batch;
  }

  #seen(s: SubnetEntry, batch: number): Window | undefined {
    if (this.#queued.length) this.#flush();
    const w = this.#windows.get(`${s.id}@${batch}`);
    return w && count(w) >= MIN_CALLS && this.#now() - w.at <= STALE_MS ? w : undefined;
  }

  /** About the p95 of a call's time, in ms. */
  latencyMs(s: SubnetEntry, batch = 1): number {
    const w = this.#seen(s, batch);
    if (w) return estimate(w);
    const r = this.#ratioFrom;
    return this.base(s, batch) * (r ? estimate(r.w) / this.base(r.s, r.batch) : 1);
  }

  /** Whether the estimate comes from this subnet's own calls. */
  source(s: SubnetEntry, batch = 1): 'observed' | 'calibration' {
    return this.#seen(s, batch) ? 'observed' : 'calibration';
  }

  /** Learn call time `ms` of `s` at `batch`, ended at `at` (the estimator's clock; callers that just read it pass it). */
  observe(s: SubnetEntry, batch: number, ms: number, at = this.#now()): void {
    if (!this.#learn || !(ms > 0 && ms < Infinity)) return;
    const i = 3 * this.#queued.length;
    this.#q[i] = batch;
    this.#q[i + 1] = ms;
    this.#q[i + 2] = at;
    if (this.#queued.push(s) >= QUEUE) this.#flush();
  }

  #flush(): void {
    const q = this.#q;
    for (let n = 0; n < this.#queued.length; n++) {
      const s = this.#queued[n]!;
      const batch = q[3 * n]!;
      const at = q[3 * n + 2]!;
      let l = this.#latest.get(s);
      // Only #window replaces a window (once stale), and it is reached from here, which updates #latest.
      if (l && l.batch === batch && at - l.w.at <= STALE_MS) l.w.at = at;
      else this.#latest.set(s, (l = { s, batch, w: this.#window(`${s.id}@${batch}`, at) }));
      add(l.w, q[3 * n + 1]!);
      if (l.w.added >= MIN_CALLS) this.#ratioFrom = l;
    }
    this.#queued.length = 0;
  }

  calibration(): Calibration {
    this.#flush();
    const observed: Record<string, number[]> = {};
    for (const [key, w] of this.#windows) {
      // Oldest first, as the calls came (a full ring's next write is its oldest sample).
      const from = w.added > WINDOW ? w.added % WINDOW : 0;
      observed[key] = Array.from({ length: count(w) }, (_, i) => Number(w.xs[(from + i) % WINDOW]!.toPrecision(4)));
    }
    return { format: 'sortednet-calibration', version: 2, latency: { ...this.model }, observed };
  }
}

/** Check a saved calibration (the JSON of `model.calibration`); returns it typed. */
export function checkCalibration(c: unknown, where = 'load().calibration'): Calibration {
  const num = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v < Infinity;
  const top = c as Calibration;
  const bad = (field: string, found: unknown): never => raise('BAD_OPTION', '<api>', `${where}${field}`, JSON.stringify(found), 'pass model.calibration (or its JSON) unchanged, or drop it to calibrate again');
  if (typeof top !== 'object' || top === null) bad('', top);
  rejectUnknownKeys(top, ['format', 'version', 'latency', 'observed'], 'BAD_OPTION', '<api>', where);
  if (top.format !== 'sortednet-calibration' || top.version !== 2) bad('.version', top.version);
  rejectUnknownKeys(top.latency ?? bad('.latency', top.latency), ['overheadMs', 'msPerMac'], 'BAD_OPTION', '<api>', `${where}.latency`);
  if (!num(top.latency.overheadMs) || !num(top.latency.msPerMac)) bad('.latency', top.latency);
  for (const [key, samples] of Object.entries(top.observed ?? bad('.observed', top.observed))) {
    if (!/^.+@[1-9]\d*$/.test(key) || !Array.isArray(samples) || samples.length > WINDOW || !samples.every((x) => num(x) && x > 0)) bad(`.observed.${key}`, samples);
  }
  return top;
}
