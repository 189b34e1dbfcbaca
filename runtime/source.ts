/**
 * Where model bytes come from: a buffer, a URL (fetched by prefix with HTTP Range requests, so
 * a small subnet starts before the rest of the file arrives), or, in Node, a file path
 * (registered by runtime/node.ts).
 *
 * @example
 * const src = openSource('https://example.com/model.onnx', {});
 * const head = await src.prefix(65536); // the first 64 KiB (or the whole file if the server ignores Range)
 */
import { SortedNetError } from './errors.js';

/** Bytes, an ArrayBuffer, a URL, or (Node only, via `sortednet/runtime/node`) a file path. */
export type ModelSource = Uint8Array | ArrayBuffer | string | URL;

export interface ByteSource {
  /** For error messages: the path, URL or `<memory>`. */
  readonly name: string;
  /** The first `end` bytes, or all there are when the file is shorter. */
  prefix(end: number): Promise<Uint8Array>;
}

export interface SourceOptions {
  /** `fetch` for URL sources. @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /** Fetch only the prefix a subnet needs, with HTTP Range requests. @defaultValue true */
  rangeRequests?: boolean;
  /** Name for buffer sources in error messages. @defaultValue '<memory>' */
  name?: string;
}

export type SourceOpener = (source: string | URL, options: SourceOptions) => ByteSource | undefined;

const openers: SourceOpener[] = [];

/** Let an entry point (runtime/node.ts) open sources the core cannot, such as file paths. */
export function registerSourceOpener(opener: SourceOpener): void {
  openers.push(opener);
}

/** Grows a buffer by appending; keeps one contiguous copy. */
function append(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

class UrlSource implements ByteSource {
  private bytes: Uint8Array = new Uint8Array(0);
  private complete = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly name: string, private readonly fetchFn: typeof fetch, private readonly range: boolean) {}

  prefix(end: number): Promise<Uint8Array> {
    const next = this.chain.then(() => this.grow(end));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private fail(found: string, cause?: unknown): never {
    throw new SortedNetError({ code: 'IO', file: this.name, field: '(fetch)', found, fix: 'check the URL and that the server is reachable', cause });
  }

  private async grow(end: number): Promise<Uint8Array> {
    if (this.complete || this.bytes.length >= end) return this.bytes;
    const from = this.bytes.length;
    let res: Response;
    try {
      res = await this.fetchFn(this.name, this.range ? { headers: { Range: `bytes=${from}-${end - 1}` } } : undefined);
    } catch (err) {
      return this.fail(`fetch failed: ${(err as Error).message}`, err);
    }
    if (res.status === 416) {
      this.complete = true; // the file ends before `from`
    } else if (res.status === 206) {
      const chunk = new Uint8Array(await res.arrayBuffer());
      const range = /bytes (\d+)-\d+\/(\d+|\*)/.exec(res.headers.get('content-range') ?? '');
      if (range && Number(range[1]) !== from) this.fail(`the server answered range ${res.headers.get('content-range')} for bytes ${from}-${end - 1}`);
      this.bytes = append(this.bytes, chunk);
      const total = range?.[2] === '*' ? undefined : Number(range?.[2]);
      if (chunk.length < end - from || (total !== undefined && this.bytes.length >= total)) this.complete = true;
    } else if (res.ok) {
      this.bytes = new Uint8Array(await res.arrayBuffer()); // no Range support: the whole file
      this.complete = true;
    } else {
      this.fail(`HTTP ${res.status} ${res.statusText}`);
    }
    return this.bytes;
  }
}

function memorySource(bytes: Uint8Array, name: string): ByteSource {
  return { name, prefix: () => Promise.resolve(bytes) };
}

/** Open any ModelSource. Strings go to registered openers first (Node: file paths), then fetch. */
export function openSource(source: ModelSource, options: SourceOptions): ByteSource {
  if (source instanceof Uint8Array) return memorySource(source, options.name ?? '<memory>');
  if (source instanceof ArrayBuffer) return memorySource(new Uint8Array(source), options.name ?? '<memory>');
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'load() source', found: `a ${typeof source}`, fix: 'pass a Uint8Array, an ArrayBuffer, a URL, or (Node) a file path' });
  }
  for (const open of openers) {
    const s = open(source, options);
    if (s) return s;
  }
  const fetchFn = options.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') {
    throw new SortedNetError({ code: 'BAD_OPTION', file: String(source), field: 'load() fetch', found: 'no fetch in this environment', fix: 'pass options.fetch, or load from bytes' });
  }
  return new UrlSource(String(source), fetchFn.bind(globalThis), options.rangeRequests ?? true);
}
