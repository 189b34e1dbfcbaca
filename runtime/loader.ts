/**
 * The file's bytes as the runtime sees them: the manifest first, then verified prefixes. Each
 * segment (manifest `segments`) is checked against its SHA-256 with WebCrypto as it arrives.
 * Downloads report progress in the shape transformers.js uses, can be kept in the browser's
 * Cache API (through a registered `SegmentStore`), and continue in the background after the first
 * subnet can run.
 *
 * @example
 * const bytes = await ModelBytes.open(openSource(url, {}), { emit: console.log });
 * await bytes.upTo(bytes.manifest.subnets[0].prefixBytes); // { status: 'progress', loaded, total, ... }
 */
import { raise } from './errors.js';
import { scanManifest, readManifest, type Manifest, type SegmentEntry } from './manifest.js';
import type { ByteSource } from './source.js';

/** Download and readiness events (`load(src, { onProgress })`), shaped like transformers.js's. */
export type ProgressEvent =
  | { status: 'initiate' | 'progress' | 'done'; name: string; file: string; loaded: number; total: number; progress: number }
  | { status: 'ready' | 'subnet-ready'; name: string; file: string; subnet: string }
  | { status: 'warning'; name: string; file: string; code: string; message: string; subnet?: string };

/** Bytes read first to find the manifest; more are read if it is longer. */
const MANIFEST_PROBE = 64 * 1024;

export interface BytesOptions {
  /** Check segments against the manifest's SHA-256. @defaultValue true */
  verify?: boolean;
  /** Cache API cache name (browser only). @defaultValue none */
  cache?: string;
  emit?: (e: ProgressEvent) => void;
}

/**
 * Where verified segments are kept between loads (`load(src, { cache })`): the Cache API store of
 * runtime/cache.ts, which registers itself when imported (Node's entries import it; browsers
 * import 'sortednet/runtime/cache', which keeps it out of the core bundle).
 */
export interface SegmentStore {
  /** Keep a verified segment of file `name`. */
  put(cache: string, name: string, sha256: string, bytes: Uint8Array): Promise<void>;
  /** Supply `src` with kept segments that continue its bytes, up to `end`. */
  fill(cache: string, name: string, segments: readonly (SegmentEntry & { start: number })[], src: ByteSource, end: number): Promise<void>;
}

let store: SegmentStore | undefined;

export function registerSegmentStore(s: SegmentStore): void {
  store = s;
}

const hex = (b: ArrayBuffer): string => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');

export class ModelBytes {
  /** Per segment: its verification, once started. */
  readonly #checks: (Promise<void> | undefined)[] = [];
  readonly #segments: (SegmentEntry & { start: number })[];
  /** Most bytes held so far (Infinity once the whole file was in). */
  #held = 0;

  readonly #opts: BytesOptions;

  private constructor(readonly src: ByteSource, readonly manifest: Manifest, manifestEnd: number, opts: BytesOptions) {
    this.#opts = opts;
    let start = manifestEnd;
    this.#segments = (manifest.segments ?? []).map((s) => {
      const seg = { ...s, start };
      start = s.end;
      return seg;
    });
  }

  static async open(src: ByteSource, opts: BytesOptions = {}): Promise<ModelBytes> {
    if (opts.cache && !store) raise('BAD_OPTION', '<api>', 'load().cache', `"${opts.cache}", but no segment store is loaded`, "import 'sortednet/runtime/cache' once before load()");
    const file = src.name.split(/[/\\]/).pop() ?? src.name;
    const event = (status: 'initiate' | 'progress' | 'done', loaded: number, total = loaded): void =>
      opts.emit?.({ status, name: src.name, file, loaded, total, progress: total ? (100 * loaded) / total : 0 });
    if (src.remote) {
      event('initiate', 0, 0);
      src.onBytes = (loaded, total) => {
        event('progress', loaded, total ?? loaded);
        if (loaded === total) event('done', loaded, total);
      };
    }
    for (let want = MANIFEST_PROBE; ;) {
      const bytes = await src.prefix(want);
      const found = scanManifest(bytes, src.name);
      if ('manifest' in found) return new ModelBytes(src, found.manifest, found.end, opts);
      if (bytes.length < want) readManifest(bytes, src.name); // throws: the file ends before the manifest
      want = found.needBytes;
    }
  }

  get name(): string {
    return this.src.name;
  }

  /** Bytes up to the end of the file's last segment (or tensor). */
  get fileEnd(): number {
    return this.#segments.at(-1)?.end ?? Math.max(...this.manifest.tensors.map((t) => t.offset + t.length));
  }

  /** Drop the bytes held (when every engine is built); later reads fetch them again and re-verify. */
  release(): void {
    if (!this.src.release) return;
    this.src.release();
    this.#checks.length = 0; // `held` stays: the bytes came once and can come again
  }

  /** Whether `[0, end)` has arrived (without waiting; released bytes count, they can be read again). */
  has(end: number): boolean {
    return this.#held >= end;
  }

  /** The first `end` bytes (at least), verification started; await `verified(end)` before trusting them. */
  async upTo(end: number): Promise<Uint8Array> {
    if (this.#opts.cache) await store?.fill(this.#opts.cache, this.name, this.#segments, this.src, end);
    const bytes = await this.src.prefix(end);
    this.#held = Math.max(this.#held, this.src.size !== undefined && bytes.length >= this.src.size ? Infinity : bytes.length);
    this.#segments.forEach((s, i) => {
      if (s.start >= end || s.end > bytes.length || this.#checks[i]) return; // hash what was asked for, once
      this.#checks[i] = this.#check(i, bytes.subarray(s.start, s.end));
      this.#checks[i]!.catch(() => undefined); // reported to whoever awaits verified()
    });
    return bytes;
  }

  /** Resolves when every segment before `end` matched its hash; throws BAD_ONNX otherwise. */
  async verified(end: number): Promise<void> {
    await Promise.all(this.#segments.map((s, i) => (s.start < end ? this.#checks[i] : undefined)));
  }

  async #check(i: number, bytes: Uint8Array): Promise<void> {
    const s = this.#segments[i]!;
    const subtle = globalThis.crypto?.subtle;
    if (this.#opts.verify === false) return;
    if (!subtle) {
      this.#opts.emit?.({ status: 'warning', name: this.name, file: this.name, code: 'UNVERIFIED', message: 'no crypto.subtle (not a secure context): not verified' });
      return;
    }
    const got = hex(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
    if (got !== s.sha256) {
      raise('BAD_ONNX', this.name, `sortednet.segments[${i}]`, `bytes ${s.start}-${s.end} hash to ${got}, not ${s.sha256}`, 'download the file again (and clear caches); if it persists, re-pack it');
    }
    if (this.#opts.cache && this.src.remote) await store?.put(this.#opts.cache, this.name, s.sha256, bytes).catch(() => undefined);
  }
}
