/**
 * Engines that run subnets, and the policy that picks them from the memory cap (`cacheMB`):
 *
 * - `fast`: one static ORT session per subnet (its folded weights), created on first use and
 *   kept while their weights fit `cacheMB`, least recently used out first;
 * - `lean`: one switch session holds every block once and runs any subnet per call
 *   (graphs/index.ts `switchGraph`). When `cacheMB` leaves room beyond the full weights and the
 *   switch session's own overhead (SWITCH_OVERHEAD), the smallest subnets keep static sessions
 *   within it: the switch graph's extra small ops cost most on small subnets, and their
 *   sessions cost least. This set is chosen once (pinned), so
 *   per-call switching never rebuilds sessions. Without `cacheMB`, nothing is pinned. A
 *   `cacheMB` below the full weights plus that overhead gets the arch's compact graph instead
 *   (`compactGraph`: weights once, fewer nodes, every call about the full width's time);
 * - `auto`: `fast` when every subnet's static session fits `cacheMB`, else `lean` when the full
 *   weights fit, else `fast` within `cacheMB`.
 *
 * Runs on one session are serialized (onnxruntime-web requires it).
 *
 * @example
 * const engines = new Engines(ort, bytes, { mode: 'lean' });
 * await engines.run(manifest.subnets[0], feeds, 1); // { logits: Tensor }
 */
import { raise, SortedNetError } from './errors.js';
import { GRAPHS, type SwitchGraph } from './graphs/index.js';
import type { ModelBytes } from './loader.js';
import type { SubnetEntry } from './manifest-types.js';
import { foldConcats, type GraphDef, type TensorBytes } from './graph.js';
import { encodeModel, EXTERNAL_DATA } from './onnx.js';
import type { OrtLike, OrtSessionLike, OrtTensorLike } from './ort.js';
import { subnetParts, tensorBytes } from './subnet.js';

/**
 * One buffer, reused for the model bytes that sessions are created from, and dropped after
 * SCRATCH_IDLE_MS without a build. A new large array costs a page fault per 4 kB on first touch
 * (measured up to 3 ms/MB on the test VM): the bytes of a build in a burst (fast mode warming
 * its subnets, a progressive upgrade, reloads) go where the last build's went.
 */
let scratch: Uint8Array | undefined;
let scratchBusy = false;
let scratchTimer: ReturnType<typeof setTimeout> | undefined;
export const SCRATCH_IDLE_MS = 2000;

async function withScratch<T>(use: (into: (n: number) => Uint8Array) => Promise<T>): Promise<T> {
  if (scratchBusy) return use((n) => new Uint8Array(n)); // concurrent builds: the other one has it
  scratchBusy = true;
  clearTimeout(scratchTimer);
  try {
    return await use((n) => (scratch && scratch.length >= n ? scratch : (scratch = new Uint8Array(n))).subarray(0, n));
  } finally {
    scratchBusy = false;
    if (scratch?.byteLength === 0) scratch = undefined; // ORT-web's proxy worker took (transferred) it
    scratchTimer = setTimeout(() => (scratch = undefined), SCRATCH_IDLE_MS);
    (scratchTimer as { unref?: () => void }).unref?.();
  }
}

/**
 * Lean mode's session options, under the app's: no CPU arena, which would keep the peak of
 * every subnet's activations (per model, measured 1.077x the weights with it against 1.023x on
 * the 40 MB MLP, 1.51x against 1.37x on the 3.7 MB one; calls ran no slower without it).
 */
const LEAN_SESSION = { enableCpuMemArena: false };

/**
 * What a lean switch session holds beyond its weights (graph, ORT's per-session state): measured
 * 0.8-1.1 MiB on both benchmark MLPs with onnxruntime-node 1.30. The room `cacheMB` leaves for
 * static sessions in lean mode is counted after it.
 */
export const SWITCH_OVERHEAD = 2 ** 20;

/** How subnets get sessions: see the module comment. */
export type Mode = 'auto' | 'fast' | 'lean';

interface Engine {
  /** Subnet id, or '' for the switch session. */
  id: string;
  bytes: number;
  session: Promise<OrtSessionLike>;
  /** The session once created (runs skip a hop then). */
  ready?: OrtSessionLike;
  /** Runs queued or running; the newest one's promise. */
  pending: number;
  last: Promise<unknown>;
  /** The run in flight (one at a time per engine): its subnet, batch and start time. */
  s?: SubnetEntry;
  batch: number;
  t0: number;
  /** Reactions to a run's end (learn its time, free the engine); made once per engine. */
  ok?: () => void;
  fail?: () => void;
  lastUsed: number;
  runs: number;
  sw?: Pick<SwitchGraph, 'routeInput' | 'route'>;
  /** A static session serving until the switch session can be built (bytes still arriving). */
  temporary?: boolean;
}

/** An engine before its session exists (`#track` sets `session`). */
const newEngine = (id: string, bytes: number, temporary?: boolean): Engine => ({ id, bytes, session: Promise.resolve(undefined as never), pending: 0, last: Promise.resolve(), batch: 0, t0: 0, lastUsed: 0, runs: 0, temporary });

export interface EngineOptions {
  mode?: Mode;
  cacheMB?: number;
  sessionOptions?: Record<string, unknown>;
}

/** Told each run's time (ms) from the caller's `t0`, or from its start when it queued; not an engine's first run (ORT allocates then). */
export type Timer = (s: SubnetEntry, batch: number, ms: number, at: number) => void;

export class Engines {
  /** The mode in effect, after `auto` is resolved. */
  readonly mode: 'fast' | 'lean';
  /** Lean mode's graph: `'switch'`, or `'compact'` under a `cacheMB` below the switch graph's overhead. */
  readonly leanGraph?: 'switch' | 'compact';
  /** `auto` chose fast only because lean mode's graph is not loaded. */
  readonly leanMissing: boolean;
  readonly #statics = new Map<string, Engine>();
  #switch?: Engine;
  #clock = 0;
  /** Bytes that static sessions may hold (beyond the switch session in lean mode). */
  readonly #room: number;
  readonly #routes = new Map<string, OrtTensorLike>();
  /** Lean mode: the subnets with their own static session (smallest first, within the room). */
  readonly #pinned = new Set<SubnetEntry>();

  readonly #ort: OrtLike;
  readonly #bytes: ModelBytes;
  readonly #opts: EngineOptions;
  readonly #timer: Timer;

  constructor(ort: OrtLike, bytes: ModelBytes, opts: EngineOptions, timer: Timer = () => undefined) {
    this.#ort = ort;
    this.#bytes = bytes;
    this.#opts = opts;
    this.#timer = timer;
    const m = bytes.manifest;
    const cap = (opts.cacheMB ?? Infinity) * 2 ** 20;
    const full = m.tensors.reduce((a, t) => a + t.length, 0);
    // Lean needs two subnets or more and a switch graph; `missing`: it would apply, but none is loaded.
    const missing = GRAPHS[m.arch]?.switchGraph === undefined && m.subnets.length > 1;
    const lean = !missing && m.subnets.length > 1;
    if (opts.mode === 'lean' && missing) raise('BAD_OPTION', '<api>', 'load().mode', `'lean', but no switch graph for arch "${m.arch}" is loaded`, "import 'sortednet/runtime/lean' once before load() (browser entry)");
    const auto = m.subnets.reduce((a, s) => a + s.bytes, 0) <= cap || full > cap ? 'fast' : 'lean';
    this.mode = !lean || opts.mode === 'fast' ? 'fast' : opts.mode === 'lean' ? 'lean' : auto;
    // Auto would run lean here, but no switch graph is loaded (a browser app without runtime/lean.ts).
    this.leanMissing = auto === 'lean' && missing && opts.mode !== 'fast';
    // Lean without cacheMB pins nothing: the weights once is what lean promises (docs/runtime.md).
    this.#room = this.mode === 'fast' ? cap : opts.cacheMB === undefined ? 0 : cap - full - SWITCH_OVERHEAD;
    // A budget below the switch session's own overhead: the compact graph, where the arch has one.
    this.leanGraph = this.mode === 'fast' ? undefined : this.#room < 0 && GRAPHS[m.arch]!.compactGraph ? 'compact' : 'switch';
    if (this.mode === 'lean') {
      let left = this.#room;
      for (const s of [...m.subnets].sort((a, b) => a.bytes - b.bytes)) {
        if (s.bytes > left || s === m.subnets.at(-1)) continue;
        left -= s.bytes;
        this.#pinned.add(s);
      }
    }
  }

  /** Ids with a live static session, least recently used first. */
  get cached(): string[] {
    return [...this.#statics.values()].sort((a, b) => a.lastUsed - b.lastUsed).map((e) => e.id);
  }

  /** Build (or find) the engine that serves `s`. */
  async prepare(s: SubnetEntry): Promise<void> {
    await this.#engine(s).session;
  }

  /** Run `s` on its engine, after the runs already queued there. */
  run(s: SubnetEntry, feeds: Record<string, OrtTensorLike>, batch: number, t0 = performance.now()): Promise<Record<string, any>> {
    const e = this.#engine(s);
    // Handlers are made once per engine: runs on an engine are serialized, so its state is the run's.
    e.ok ??= () => {
      if (e.runs++) {
        const now = performance.now();
        this.#timer(e.s!, e.batch, now - e.t0, now);
      }
      e.pending--;
    };
    e.fail ??= () => void e.pending--;
    const p = e.pending++ === 0 && e.ready ? this.#exec(e, e.ready, s, feeds, batch, t0) : e.last.then(() => e.session, () => e.session).then((session) => this.#exec(e, session, s, feeds, batch, performance.now()), (err) => {
      e.fail!();
      throw err;
    });
    e.last = p; // the caller handles p's rejection; later runs follow it either way
    return p;
  }

  #exec(e: Engine, session: OrtSessionLike, s: SubnetEntry, feeds: Record<string, OrtTensorLike>, batch: number, t0: number): Promise<Record<string, any>> {
    e.s = s;
    e.batch = batch;
    if (e.sw) feeds = { ...feeds, [e.sw.routeInput]: this.#route(e.sw, s, batch) };
    e.t0 = t0;
    // The caller gets ORT's own promise; the bookkeeping is a reaction registered on it first,
    // so it runs before the caller's (and the next run sees the engine free) without a promise
    // in between on every call.
    const p = session.run(feeds);
    void p.then(e.ok, e.fail);
    return p;
  }

  #engine(s: SubnetEntry): Engine {
    const hit = this.#statics.get(s.id);
    const e = hit ?? (this.mode === 'fast' || this.#pinned.has(s) ? this.#addStatic(s, false)
      : this.#switch ?? (this.#bytes.src.remote && !this.#bytes.has(this.#bytes.fileEnd) ? this.#addStatic(s, true) : this.#addSwitch()));
    e.lastUsed = ++this.#clock;
    return e;
  }

  #track(e: Engine, create: () => Promise<OrtSessionLike>, forget: () => void): Engine {
    e.session = create().then((session) => (e.ready = session), (err: unknown) => {
      forget(); // a failed creation is not kept, so the next call retries
      if (err instanceof SortedNetError) throw err;
      return raise('BAD_ONNX', this.#bytes.name, e.id ? `subnet ${e.id}` : 'switch graph', `onnxruntime could not create a session: ${(err as Error).message}`,
        'check sessionOptions (execution providers) and that the file is not corrupt', err);
    });
    e.session.catch(() => undefined);
    return e;
  }

  /**
   * A session on the model that `graph` and `tensors` encode (into the scratch buffer: ORT has
   * copied it once create resolves). Stored blocks stay in the file's `bytes`, which ORT reads
   * as external data (onnx.ts `EXTERNAL_DATA`); only folded tensors and constants are encoded.
   */
  async #session(graph: GraphDef, tensors: Map<string, TensorBytes>, bytes: Uint8Array, end: number): Promise<OrtSessionLike> {
    const options = { ...(this.mode === 'lean' ? LEAN_SESSION : {}), externalData: [{ path: EXTERNAL_DATA, data: bytes }], ...this.#opts.sessionOptions };
    const session = await withScratch((into) => this.#ort.InferenceSession.create(encodeModel(graph, tensors, { opset: this.#bytes.manifest.opset, metadata: [] }, into, true), options));
    try {
      await this.#bytes.verified(end); // hashing ran alongside session creation
    } catch (err) {
      await session.release();
      throw err;
    }
    return session;
  }

  #addStatic(s: SubnetEntry, temporary: boolean): Engine {
    const e = newEngine(s.id, s.bytes, temporary);
    this.#statics.set(s.id, e);
    this.#track(e, async () => {
      const bytes = await this.#bytes.upTo(s.prefixBytes);
      const m = this.#bytes.manifest;
      // The extracted file's graph and weights; its metadata (the subnet's entry) is for files, not sessions.
      const { graph, tensors } = subnetParts(m, bytes, s.id, this.#bytes.name);
      return this.#session(graph, tensors, bytes, s.prefixBytes);
    }, () => this.#statics.get(s.id) === e && this.#statics.delete(s.id));
    if (!temporary) this.#evict(s.id);
    return e;
  }

  #addSwitch(): Engine {
    const e = newEngine('', 0);
    this.#switch = e;
    const m = this.#bytes.manifest;
    return this.#track(e, async () => {
      const end = this.#bytes.fileEnd;
      const bytes = await this.#bytes.upTo(end);
      const graphs = GRAPHS[m.arch]!;
      const sw = this.leanGraph === 'compact' ? graphs.compactGraph!(m) : graphs.switchGraph!(m);
      const tensors = new Map(sw.consts);
      for (const name of sw.graph.initializers) if (!tensors.has(name)) tensors.set(name, tensorBytes(m, name, bytes, this.#bytes.name));
      // The compact graph's weights are Concat trees over blocks, folded here; the switch graph reads blocks as they are.
      const session = await this.#session(this.leanGraph === 'compact' ? foldConcats(sw.graph, tensors) : sw.graph, tensors, bytes, end);
      e.sw = { routeInput: sw.routeInput, route: sw.route }; // calls need the route only, not the graph and its constants
      for (const t of [...this.#statics.values()].filter((x) => x.temporary)) void this.#drop(t);
      // The pinned statics are built now, so the file's bytes can go: every other subnet runs on the switch.
      const pinned = [...this.#pinned].map((p) => (this.#statics.get(p.id) ?? this.#addStatic(p, false)).session);
      void Promise.all(pinned).then(() => this.#bytes.release(), () => undefined);
      return session;
    }, () => this.#switch === e && (this.#switch = undefined));
  }

  #route(sw: Pick<SwitchGraph, 'routeInput' | 'route'>, s: SubnetEntry, batch: number): OrtTensorLike {
    const key = `${s.id}:${batch}`;
    let t = this.#routes.get(key);
    if (!t) {
      if (this.#routes.size > 256) this.#routes.clear();
      const r = sw.route(s.levels, batch);
      this.#routes.set(key, (t = new this.#ort.Tensor('int64', r, [r.length])));
    }
    return t;
  }

  /** Release least recently used static sessions until they fit the room. */
  #evict(keep: string): void {
    const statics = [...this.#statics.values()].filter((e) => !e.temporary).sort((a, b) => a.lastUsed - b.lastUsed);
    let total = statics.reduce((a, e) => a + e.bytes, 0);
    for (const e of statics) {
      if (total <= this.#room) break;
      if (e.id === keep) continue;
      total -= e.bytes;
      void this.#drop(e);
    }
    if (this.mode === 'fast' && this.#statics.size === this.#bytes.manifest.subnets.length) {
      void Promise.all([...this.#statics.values()].map((x) => x.session)).then(() => this.#bytes.release(), () => undefined);
    }
  }

  #drop(e: Engine): Promise<void> {
    if (this.#statics.get(e.id) === e) this.#statics.delete(e.id);
    if (this.#switch === e) this.#switch = undefined;
    return e.last.catch(() => undefined).then(async () => (await e.session.catch(() => undefined))?.release()).catch(() => undefined);
  }

  async releaseAll(): Promise<void> {
    await Promise.all([...this.#statics.values(), ...(this.#switch ? [this.#switch] : [])].map((e) => this.#drop(e)));
  }
}
