/**
 * SortedModel: load a packed file, pick a subnet from budgets, run and switch per call.
 *
 * @example
 * import * as ort from 'onnxruntime-web';
 * import 'sortednet/runtime/lean'; // browsers: lean mode's switch graph (Node includes it)
 * const model = await SortedModel.load('/model.onnx', { ort, budget: { latencyMs: 5 }, mode: 'lean' });
 * model.subnet.id; // 'd2-w50' (the most accurate subnet estimated under 5 ms)
 * const { logits } = await model.run({ input: { data: pixels, dims: [1, 784] } });
 * await model.run(feeds, { budget: { latencyMs: 1 } }); // another subnet, same weights
 * model.explain({ latencyMs: 1 }).reason; // 'd1-w50: the most accurate of 4 subnets within budget ...'
 * localStorage.calibration = JSON.stringify(model.calibration); // reuse: load(src, { ort, calibration })
 */
import { calibrate } from './calibrate.js';
import { raise, rejectUnknownKeys, SortedNetError } from './errors.js';
import { prepareFeeds, zeroFeeds, type FeedValue } from './feeds.js';
import { checkCalibration, LatencyEstimator, type Calibration, type LatencyModel, WINDOW } from './latency.js';
import { ModelBytes, type ProgressEvent } from './loader.js';
import { findSubnet, type Manifest, type SubnetEntry } from './manifest.js';
import type { OrtLike, TensorOf } from './ort.js';
import { checkBudget, DEFAULT_LATENCY, judge, type Budget, type Estimate } from './select.js';
import { Engines, type Mode } from './sessions.js';
import { openSource, type ModelSource, type SourceOptions } from './source.js';

export interface LoadOptions<O extends OrtLike = OrtLike> extends SourceOptions {
  /** The app's `onnxruntime-node` or `onnxruntime-web` module. Required. */
  ort: O;
  /** Choose the default subnet: the most accurate within this budget. @defaultValue none: the most accurate subnet */
  budget?: Budget;
  /** Use this subnet id by default (instead of `budget`). @defaultValue undefined */
  subnet?: string;
  /** `'fast'`: a session per subnet; `'lean'`: one session, weights once; `'auto'`: see docs/runtime.md. @defaultValue 'auto' */
  mode?: Mode;
  /** Cap on the weights held by sessions, in MB; least recently used static sessions go first. In lean mode, what it leaves beyond the full weights and about 1 MB for the switch session keeps the smallest subnets' static sessions. @defaultValue Infinity (lean: no static sessions) */
  cacheMB?: number;
  /** When no subnet meets a budget: throw IMPOSSIBLE_BUDGET, or use the smallest and emit a warning event. @defaultValue 'throw' */
  onImpossible?: 'throw' | 'smallest';
  /** Passed to `ort.InferenceSession.create` for every session. @defaultValue {} */
  sessionOptions?: Record<string, unknown>;
  /** Time the smallest subnet at load to fit latency ≈ overheadMs + msPerMac · MACs. @defaultValue true */
  calibrate?: boolean;
  /** A saved `model.calibration`: skips calibration and keeps what calls taught. @defaultValue none */
  calibration?: Calibration;
  /** A known, fixed latency model: skips calibration, and estimates do not learn from calls. @defaultValue calibrated, or DEFAULT_LATENCY when `calibrate` is false */
  latencyModel?: LatencyModel;
  /** URL sources: resolve once the smallest subnet can run and fetch the rest in the background. @defaultValue true */
  progressive?: boolean;
  /** Check each file segment against the manifest's SHA-256 (WebCrypto). @defaultValue true for URL sources (downloads), false for buffers and files */
  verify?: boolean;
  /** Browser only: keep downloaded segments in the Cache API (`true` means the cache 'sortednet-v1'). @defaultValue false */
  cache?: boolean | string;
  /** Download progress, readiness and warnings, shaped like transformers.js's progress_callback. @defaultValue none */
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * Calls after which a per-call budget's choice is made afresh (see #sticky): once per latency
 * window, the span over which estimates move. A re-choice runs rarely, so it runs as cold code
 * (about 30 µs here against 3 µs when hot); at every 50th call those calls were 2 % of a small
 * model's calls, enough to lift its p95 by the ~30 µs.
 */
const STICKY_CALLS = WINDOW;
const LOAD_KEYS = ['ort', 'budget', 'subnet', 'mode', 'cacheMB', 'onImpossible', 'sessionOptions', 'calibrate', 'calibration', 'latencyModel', 'progressive', 'verify', 'cache', 'onProgress', 'fetch', 'rangeRequests', 'name'] as const;
const RUN_KEYS = ['budget', 'subnet', 'onImpossible'] as const;

/** Per call: pick by budget (at this call's batch size) or by id; default: the model's current subnet. */
export interface RunOptions {
  /** @defaultValue the subnet chosen at load or by `use()` */
  budget?: Budget;
  /** @defaultValue the subnet chosen at load or by `use()` */
  subnet?: string;
  /** @defaultValue the load option */
  onImpossible?: 'throw' | 'smallest';
}

/** A manifest subnet with this device's estimates (batch 1). */
export interface SubnetInfo extends SubnetEntry {
  estimate: Estimate;
}

/** Why `explain(budget)` would pick what it picks. */
export interface Explanation {
  budget: Budget;
  batch: number;
  /** The subnet `run(feeds, { budget })` would use now; undefined when it would throw. */
  chosen?: string;
  reason: string;
  subnets: { id: string; accuracy?: number; latencyMs: number; latencyFrom: 'observed' | 'calibration'; memoryMB: number; downloaded: boolean; fits: boolean; fails: string[] }[];
}

/** Throws BAD_OPTION for an argument of the API. */
function badOption(field: string, found: string, fix: string): never {
  return raise('BAD_OPTION', '<api>', field, found, fix);
}

export class SortedModel<O extends OrtLike = OrtLike> {
  #target: SubnetEntry;
  #released = false;
  readonly #byId: Map<string, SubnetEntry>;
  /** Resolves when the whole file is in and verified (and, in lean mode, the switch session built). */
  readonly complete: Promise<void>;

  readonly #ort: O;
  readonly #bytes: ModelBytes;
  readonly #engines: Engines;
  readonly #estimator: LatencyEstimator;
  readonly #options: LoadOptions<O>;
  /** `manifest.subnets`, smallest first (read on most paths; a field is shorter in the bundle). */
  readonly #subnets: SubnetEntry[];

  private constructor(readonly manifest: Manifest, ort: O, bytes: ModelBytes, engines: Engines, estimator: LatencyEstimator, options: LoadOptions<O>) {
    this.#ort = ort;
    this.#bytes = bytes;
    this.#engines = engines;
    this.#estimator = estimator;
    this.#options = options;
    this.#subnets = manifest.subnets;
    this.#target = manifest.subnets[manifest.subnets.length - 1]!;
    this.#byId = new Map(manifest.subnets.map((s) => [s.id, s]));
    this.complete = Promise.resolve();
  }

  static async load<O extends OrtLike>(source: ModelSource, options: LoadOptions<O>): Promise<SortedModel<O>> {
    if (typeof options !== 'object' || options === null) badOption('load() options', String(options), 'pass { ort }');
    rejectUnknownKeys(options, LOAD_KEYS, 'BAD_OPTION', '<api>', 'load()');
    const { ort } = options;
    if (typeof ort?.InferenceSession?.create !== 'function' || typeof ort.Tensor !== 'function') {
      badOption('load().ort', ort === undefined ? 'missing' : 'not an onnxruntime module', "pass your app's module: import * as ort from 'onnxruntime-web' (or 'onnxruntime-node'), then load(src, { ort })");
    }
    if (options.budget !== undefined && options.subnet !== undefined) badOption('load().subnet', 'both subnet and budget', 'pass one of them');
    const budget = options.budget === undefined ? {} : checkBudget(options.budget, 'load().budget');
    if (options.cacheMB !== undefined && !(options.cacheMB > 0)) badOption('load().cacheMB', String(options.cacheMB), 'use a number > 0');
    for (const [k, allowed] of [['mode', ['auto', 'fast', 'lean']], ['onImpossible', ['throw', 'smallest']]] as const) {
      const v = options[k];
      if (v !== undefined && !(allowed as readonly string[]).includes(v)) badOption(`load().${k}`, JSON.stringify(v), `use one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
    }
    const saved = options.calibration === undefined ? undefined : checkCalibration(options.calibration);

    const src = openSource(source, options);
    const cache = options.cache === true ? 'sortednet-v1' : options.cache || undefined;
    const bytes = await ModelBytes.open(src, { verify: options.verify ?? src.remote === true, cache, emit: options.onProgress });
    const { manifest } = bytes;
    const learned: { by?: LatencyEstimator } = {}; // calls after calibration teach the estimator
    const engines = new Engines(ort, bytes, options, (s, batch, ms, at) => learned.by?.observe(s, batch, ms, at));
    const smallest = manifest.subnets[0]!;
    let latency = saved?.latency ?? options.latencyModel ?? DEFAULT_LATENCY;
    if (!saved && !options.latencyModel && options.calibrate !== false) {
      const largest = Math.max(...manifest.subnets.map((s) => s.macs));
      latency = await calibrate((batch) => engines.run(smallest, zeroFeeds(ort, manifest, batch), batch), smallest.macs, largest);
    }
    learned.by = new LatencyEstimator(latency, saved, !options.latencyModel);
    const model = new SortedModel(manifest, ort, bytes, engines, learned.by, options);
    model.#target = options.subnet !== undefined ? findSubnet(manifest, options.subnet, src.name) : model.#pick(budget, 1, 'load().budget', options.onImpossible);
    const progressive = src.remote === true && options.progressive !== false;
    const first = model.#downloaded(model.#target) || !progressive ? model.#target : smallest;
    await engines.prepare(first);
    model.#announce(manifest.subnets.filter((s) => model.#downloaded(s)));
    if (engines.leanMissing) model.#emit({ status: 'warning', code: 'NO_LEAN', message: "cacheMB suits lean mode; import 'sortednet/runtime/lean' for it (browser entry), or subnets past cacheMB are rebuilt when used" });
    model.#emit({ status: 'ready', subnet: first.id });
    if (progressive && !bytes.has(bytes.fileEnd)) {
      (model as { complete: Promise<void> }).complete = model.#download();
      model.complete.catch((err: unknown) => model.#emit({ status: 'warning', code: 'DOWNLOAD', message: (err as Error).message }));
    }
    return model;
  }

  readonly #announced = new Set<string>();

  /** Emit `subnet-ready` once per subnet. */
  #announce(subnets: SubnetEntry[]): void {
    for (const s of subnets) {
      if (this.#announced.has(s.id)) continue;
      this.#announced.add(s.id);
      this.#emit({ status: 'subnet-ready', subnet: s.id });
    }
  }

  #emit(e: { status: 'ready' | 'subnet-ready'; subnet: string } | { status: 'warning'; code: string; message: string; subnet?: string }): void {
    this.#options.onProgress?.({ ...e, name: this.file, file: this.file.split(/[/\\]/).pop()! } as ProgressEvent);
  }

  /** Fetch the rest in file order; each subnet is announced when its bytes are verified. */
  async #download(): Promise<void> {
    const ends = [...new Set(this.#subnets.map((s) => s.prefixBytes)), this.#bytes.fileEnd].sort((a, b) => a - b);
    for (const end of ends) {
      if (this.#released) return;
      await this.#bytes.upTo(end);
      await this.#bytes.verified(end);
      const fresh = this.#subnets.filter((s) => s.prefixBytes <= end && !this.#announced.has(s.id));
      this.#announce(fresh);
      if (fresh.includes(this.#target)) await this.#engines.prepare(this.#target);
    }
    if (this.#engines.mode === 'lean' && !this.#released) await this.#engines.prepare(this.#subnets.find((s) => !this.#engines.cached.includes(s.id)) ?? this.#target);
  }

  /** Path, URL or `<memory>`, as named in errors. */
  get file(): string {
    return this.#bytes.name;
  }

  /** The calibrated latency model (before per-subnet corrections). */
  get latencyModel(): LatencyModel {
    return this.#estimator.model;
  }

  /** What calibration measured and calls taught; JSON-serializable. Pass it to `load(src, { calibration })`. */
  get calibration(): Calibration {
    return this.#estimator.calibration();
  }

  /** The mode in effect: `'fast'` (a session per subnet) or `'lean'` (one switch session). */
  get mode(): 'fast' | 'lean' {
    return this.#engines.mode;
  }

  /** Lean mode's graph: `'switch'` (fast calls, about 1 MiB beyond the weights), or `'compact'` under a tighter `cacheMB`. */
  get leanGraph(): 'switch' | 'compact' | undefined {
    return this.#engines.leanGraph;
  }

  /** Every subnet, smallest first, with this device's estimates at batch 1. */
  get subnets(): SubnetInfo[] {
    return this.#subnets.map((s) => this.#info(s));
  }

  /** The default subnet for `run()`: the one chosen at load, once its bytes are in. */
  get subnet(): SubnetInfo {
    return this.#info(this.#fallback(this.#target));
  }

  #downloaded(s: SubnetEntry): boolean {
    return this.#bytes.has(s.prefixBytes) || !this.#bytes.src.remote;
  }

  /** `s` if its bytes are in, else the largest downloaded subnet below it in the file (the smallest at worst). */
  #fallback(s: SubnetEntry): SubnetEntry {
    return this.#downloaded(s) ? s : this.#subnets.filter((x) => x.prefixBytes <= s.prefixBytes && this.#downloaded(x)).at(-1) ?? this.#subnets[0]!;
  }

  #info(s: SubnetEntry, batch = 1): SubnetInfo {
    return { ...s, estimate: this.#estimate(s, batch) };
  }

  /** A field, so selection can take it as its estimator. */
  readonly #estimate = (s: SubnetEntry, batch: number): Estimate => ({ latencyMs: this.#estimator.latencyMs(s, batch), memoryMB: (s.bytes + s.activations * batch) / 2 ** 20 });

  #pick(budget: Budget, batch: number, where: string, onImpossible = this.#options.onImpossible): SubnetEntry {
    const j = judge(this.#subnets, checkBudget(budget, where), this.#estimate, batch, this.file);
    try {
      const best = j.pick();
      if (this.#downloaded(best)) return best;
      // Still downloading: the most accurate subnet that fits and is here, else wait for `best`.
      const here = j.verdicts.filter((v) => v.fits && this.#downloaded(v.subnet)).map((v) => v.subnet);
      return here.length ? judge(here, budget, this.#estimate, batch, this.file).pick() : best;
    } catch (err) {
      if (onImpossible !== 'smallest' || !(err instanceof SortedNetError) || err.code !== 'IMPOSSIBLE_BUDGET') throw err;
      const s = this.#subnets[0]!;
      this.#emit({ status: 'warning', code: err.code, message: `${err.message}; using the smallest subnet, ${s.id}`, subnet: s.id });
      return s;
    }
  }

  /** The most accurate subnet within `budget` at `batch`; throws IMPOSSIBLE_BUDGET if none fits. */
  select(budget: Budget, batch = 1): SubnetInfo {
    return this.#info(this.#pick(budget, batch, 'select() budget'), batch);
  }

  /** Each subnet's estimates against `budget`, what fails, and which subnet would be chosen and why. */
  explain(budget: Budget, batch = 1): Explanation {
    const { verdicts } = judge(this.#subnets, checkBudget(budget, 'explain() budget'), this.#estimate, batch, this.file);
    const subnets = verdicts.map((v) => ({
      id: v.subnet.id, accuracy: v.subnet.metrics.accuracy, latencyMs: v.estimate.latencyMs, latencyFrom: this.#estimator.source(v.subnet),
      memoryMB: v.estimate.memoryMB, downloaded: this.#downloaded(v.subnet), fits: v.fits, fails: v.fails,
    }));
    let chosen: string | undefined;
    let reason: string;
    try {
      chosen = this.#pick(budget, batch, 'explain() budget', 'throw').id;
      const n = subnets.filter((s) => s.fits).length;
      const c = subnets.find((s) => s.id === chosen)!;
      reason = `${chosen}: the most accurate of ${n} subnets within budget (accuracy ${c.accuracy}), estimated ${c.latencyMs.toPrecision(3)} ms (${c.latencyFrom})`;
    } catch (err) {
      if (!(err instanceof SortedNetError)) throw err;
      reason = err.message;
      if ((this.#options.onImpossible ?? 'throw') === 'smallest') reason += `; onImpossible 'smallest' uses ${(chosen = this.#subnets[0]!.id)}`;
    }
    return { budget, batch, chosen, reason, subnets };
  }

  /** Switch the default subnet (by id or budget) and build what it needs now. */
  async use(choice: RunOptions): Promise<SubnetInfo> {
    this.#checkLive('use()');
    this.#target = this.#choose(choice, 1, 'use()') ?? this.#target;
    await this.#engines.prepare(this.#fallback(this.#target));
    return this.subnet;
  }

  #choose(options: RunOptions, batch: number, where: string): SubnetEntry | undefined {
    // Fast path (per call): only a known `subnet`.
    let only = true;
    for (const k in options) only &&= k === 'subnet';
    const hit = only ? this.#byId.get(options.subnet!) : undefined;
    if (hit) return hit;
    if (typeof options !== 'object' || options === null) badOption(`${where} options`, String(options), 'pass { subnet } or { budget }');
    rejectUnknownKeys(options, RUN_KEYS, 'BAD_OPTION', '<api>', where);
    if (options.subnet !== undefined && options.budget !== undefined) badOption(`${where}.subnet`, 'both subnet and budget', 'pass one of them');
    if (options.subnet !== undefined) return findSubnet(this.manifest, options.subnet, this.file);
    if (options.budget !== undefined) return this.#sticky(options.budget, batch, where, options.onImpossible ?? this.#options.onImpossible);
    return undefined;
  }

  /** The last budget served per call (its fields, batch and onImpossible), its subnet, and calls since it was chosen. */
  #last?: { budget: Budget; keys: number; batch: number; smallest: boolean; subnet: SubnetEntry; calls: number };

  /**
   * Per-call budgets keep their subnet while its estimate fits, re-choosing every STICKY_CALLS
   * calls: switching subnets every call (on noise at a boundary) makes calls slower (cold caches).
   * The same budget is recognised by its fields, so a literal written in the call matches too;
   * this check is what a budget adds to a call (measured +2 µs at the median on a 18 µs call when
   * it serialized the budget to compare).
   */
  #sticky(budget: Budget, batch: number, where: string, onImpossible: LoadOptions['onImpossible']): SubnetEntry {
    const smallest = onImpossible === 'smallest';
    const last = this.#last;
    let keys = 0;
    let same = last !== undefined && last.batch === batch && last.smallest === smallest;
    for (const k in budget) {
      keys++;
      same &&= budget[k as keyof Budget] === last!.budget[k as keyof Budget];
    }
    // With onImpossible 'smallest', the smallest subnet stays too (its warning repeats at each re-choice).
    if (same && keys === last!.keys && ++last!.calls % STICKY_CALLS
      && (budget.latencyMs === undefined || (smallest && last!.subnet === this.#subnets[0]) || this.#estimator.latencyMs(last!.subnet, batch) <= budget.latencyMs)) return last!.subnet;
    const subnet = this.#pick(budget, batch, `${where}.budget`, onImpossible);
    this.#last = { budget: { ...budget }, keys, batch, smallest, subnet, calls: 0 };
    return subnet;
  }

  #checkLive(where: string): void {
    if (this.#released) badOption(where, 'the model was released', 'load it again');
  }

  /** Run one subnet: by `options`, else the default. Concurrent calls are safe; runs on one session queue up. */
  run(feeds: Record<string, FeedValue>, options: RunOptions = {}): Promise<Record<string, TensorOf<O>>> {
    const t0 = performance.now(); // estimates learn the time a caller sees, this check included
    try {
      this.#checkLive('run()');
      const prepared = prepareFeeds(this.#ort, this.manifest, feeds);
      const subnet = this.#choose(options, prepared.batch, 'run()') ?? this.#fallback(this.#target);
      return this.#engines.run(subnet, prepared.feeds, prepared.batch, t0) as Promise<Record<string, TensorOf<O>>>;
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** Ids of subnets with a live static session, least recently used first. */
  get cachedSubnets(): string[] {
    return this.#engines.cached;
  }

  /** Release every session. The model cannot run afterwards. */
  async release(): Promise<void> {
    this.#released = true;
    await this.#engines.releaseAll();
  }
}
