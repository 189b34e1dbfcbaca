/**
 * SortedModel: load a packed file, pick a subnet from budgets, run and switch.
 *
 * @example
 * import * as ort from 'onnxruntime-web';
 * const model = await SortedModel.load('/model.onnx', { ort, budget: { latencyMs: 5 } });
 * model.subnet.id; // 'd2-w50' (the most accurate subnet estimated under 5 ms)
 * const { logits } = await model.run({ input: { data: pixels, dims: [1, 784] } });
 * await model.run(feeds, { budget: { memoryMB: 1 } }); // per-call switch
 * await model.release();
 */
import { calibrate } from './calibrate.js';
import { rejectUnknownKeys, SortedNetError } from './errors.js';
import { prepareFeeds, zeroFeeds, type FeedValue } from './feeds.js';
import { findSubnet, readManifest, scanManifest, type Manifest, type SubnetEntry } from './manifest.js';
import type { OrtLike, TensorOf } from './ort.js';
import { checkBudget, DEFAULT_LATENCY, estimate, selectSubnet, type Budget, type Estimate, type LatencyModel } from './select.js';
import { SessionCache } from './sessions.js';
import { openSource, type ModelSource, type SourceOptions } from './source.js';

export interface LoadOptions<O extends OrtLike = OrtLike> extends SourceOptions {
  /** The app's `onnxruntime-node` or `onnxruntime-web` module. Required. */
  ort: O;
  /** Choose the default subnet: the most accurate within this budget. @defaultValue none: the most accurate subnet */
  budget?: Budget;
  /** Use this subnet id by default (instead of `budget`). @defaultValue undefined */
  subnet?: string;
  /** Passed to `ort.InferenceSession.create` for every subnet session. @defaultValue {} */
  sessionOptions?: Record<string, unknown>;
  /** Time the smallest subnet at load to fit latency ≈ overheadMs + msPerMac · MACs. @defaultValue true */
  calibrate?: boolean;
  /** A known latency model; skips calibration. @defaultValue calibrated, or DEFAULT_LATENCY when `calibrate` is false */
  latencyModel?: LatencyModel;
  /** Keep sessions while their weights total at most this many MB; least recently used go first. @defaultValue Infinity */
  cacheMB?: number;
}

const LOAD_KEYS = ['ort', 'budget', 'subnet', 'sessionOptions', 'calibrate', 'latencyModel', 'cacheMB', 'fetch', 'rangeRequests', 'name'] as const;
const RUN_KEYS = ['budget', 'subnet'] as const;
/** Bytes read first to find the manifest; more are read if it is longer. */
const MANIFEST_PROBE = 64 * 1024;

/** Per call: pick by budget (at this call's batch size) or by id; default: the model's current subnet. */
export interface RunOptions {
  /** @defaultValue the subnet chosen at load or by `use()` */
  budget?: Budget;
  /** @defaultValue the subnet chosen at load or by `use()` */
  subnet?: string;
}

/** A manifest subnet with this device's estimates (batch 1). */
export interface SubnetInfo extends SubnetEntry {
  estimate: Estimate;
}

const badOption = (field: string, found: string, fix: string): SortedNetError => new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field, found, fix });

export class SortedModel<O extends OrtLike = OrtLike> {
  private current: SubnetEntry;
  private released = false;

  private constructor(
    readonly manifest: Manifest,
    /** Path, URL or `<memory>`, as named in errors. */
    readonly file: string,
    /** Latency per call ≈ overheadMs + msPerMac · MACs · batch. */
    readonly latencyModel: LatencyModel,
    private readonly ort: O,
    private readonly sessions: SessionCache,
  ) {
    this.current = manifest.subnets[manifest.subnets.length - 1]!;
  }

  static async load<O extends OrtLike>(source: ModelSource, options: LoadOptions<O>): Promise<SortedModel<O>> {
    if (typeof options !== 'object' || options === null) throw badOption('load() options', String(options), 'pass { ort }');
    rejectUnknownKeys(options, LOAD_KEYS, { file: '<api>', field: 'load()', code: 'BAD_OPTION' });
    const { ort } = options;
    if (typeof ort?.InferenceSession?.create !== 'function' || typeof ort.Tensor !== 'function') {
      throw badOption('load().ort', ort === undefined ? 'missing' : 'not an onnxruntime module', "pass your app's module: import * as ort from 'onnxruntime-web' (or 'onnxruntime-node'), then load(src, { ort })");
    }
    if (options.budget !== undefined && options.subnet !== undefined) throw badOption('load().subnet', 'both subnet and budget', 'pass one of them');
    const budget = options.budget === undefined ? {} : checkBudget(options.budget, 'load().budget');
    if (options.cacheMB !== undefined && !(options.cacheMB > 0)) throw badOption('load().cacheMB', String(options.cacheMB), 'use a number > 0');

    const src = openSource(source, options);
    let want = MANIFEST_PROBE;
    let manifest: Manifest;
    for (;;) {
      const bytes = await src.prefix(want);
      const found = scanManifest(bytes, src.name);
      if ('manifest' in found) {
        manifest = found.manifest;
        break;
      }
      if (bytes.length < want) readManifest(bytes, src.name); // throws: the file ends before the manifest
      want = found.needBytes;
    }
    const sessions = new SessionCache(ort, src, manifest, { sessionOptions: options.sessionOptions, cacheMB: options.cacheMB });
    const smallest = manifest.subnets[0]!;
    let latency = options.latencyModel ?? DEFAULT_LATENCY;
    if (!options.latencyModel && options.calibrate !== false) {
      const largest = Math.max(...manifest.subnets.map((s) => s.macs));
      latency = await calibrate((batch) => sessions.run(smallest, zeroFeeds(ort, manifest, batch)), smallest.macs, largest);
    }
    const model = new SortedModel(manifest, src.name, latency, ort, sessions);
    model.current = options.subnet !== undefined ? findSubnet(manifest, options.subnet, src.name) : selectSubnet(manifest.subnets, budget, latency, 1, src.name);
    await sessions.session(model.current);
    return model;
  }

  /** Every subnet, smallest first, with this device's estimates at batch 1. */
  get subnets(): SubnetInfo[] {
    return this.manifest.subnets.map((s) => this.info(s));
  }

  /** The default subnet for `run()`. */
  get subnet(): SubnetInfo {
    return this.info(this.current);
  }

  private info(s: SubnetEntry, batch = 1): SubnetInfo {
    return { ...s, estimate: estimate(s, this.latencyModel, batch) };
  }

  /** The most accurate subnet within `budget` at `batch`; throws IMPOSSIBLE_BUDGET if none fits. */
  select(budget: Budget, batch = 1): SubnetInfo {
    return this.info(selectSubnet(this.manifest.subnets, checkBudget(budget, 'select() budget'), this.latencyModel, batch, this.file), batch);
  }

  /** Switch the default subnet (by id or budget) and create its session now. */
  async use(choice: RunOptions): Promise<SubnetInfo> {
    this.checkLive('use()');
    this.current = this.choose(choice, 1, 'use()') ?? this.current;
    await this.sessions.session(this.current);
    return this.subnet;
  }

  private choose(options: RunOptions, batch: number, where: string): SubnetEntry | undefined {
    if (typeof options !== 'object' || options === null) throw badOption(`${where} options`, String(options), 'pass { subnet } or { budget }');
    rejectUnknownKeys(options, RUN_KEYS, { file: '<api>', field: where, code: 'BAD_OPTION' });
    if (options.subnet !== undefined && options.budget !== undefined) throw badOption(`${where}.subnet`, 'both subnet and budget', 'pass one of them');
    if (options.subnet !== undefined) return findSubnet(this.manifest, options.subnet, this.file);
    if (options.budget !== undefined) return selectSubnet(this.manifest.subnets, checkBudget(options.budget, `${where}.budget`), this.latencyModel, batch, this.file);
    return undefined;
  }

  private checkLive(where: string): void {
    if (this.released) throw badOption(where, 'the model was released', 'load it again');
  }

  /** Run one subnet: by `options`, else the default. Runs on one subnet's session are serialized. */
  async run(feeds: Record<string, FeedValue>, options: RunOptions = {}): Promise<Record<string, TensorOf<O>>> {
    this.checkLive('run()');
    const prepared = prepareFeeds(this.ort, this.manifest, feeds);
    const subnet = this.choose(options, prepared.batch, 'run()') ?? this.current;
    return (await this.sessions.run(subnet, prepared.feeds)) as Record<string, TensorOf<O>>;
  }

  /** Ids of subnets with a live session, least recently used first. */
  get cachedSubnets(): string[] {
    return this.sessions.cached;
  }

  /** Release every session. The model cannot run afterwards. */
  async release(): Promise<void> {
    this.released = true;
    await this.sessions.releaseAll();
  }
}
