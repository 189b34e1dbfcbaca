/**
 * Keeps verified segments of downloaded files in the browser's Cache API, for
 * `load(url, { cache: true })` (cache 'sortednet-v1') or `{ cache: 'name' }`. Node's entries
 * import it already; in a browser, import it once before loading with `cache` (it keeps the core
 * bundle small, like the CNN and GPT graph builders). Each segment is stored under the file's
 * URL plus `?sortednet-sha256=<hash>`, so a changed file never matches stale entries.
 *
 * @example
 * import 'sortednet/runtime/cache';
 * const model = await SortedModel.load('/model.onnx', { ort, cache: true }); // the next load reads the cache
 */
import { registerSegmentStore } from './loader.js';

/** Cache key of a segment: the URL plus its hash. */
const key = (name: string, sha256: string): string => `${name}${name.includes('?') ? '&' : '?'}sortednet-sha256=${sha256}`;

registerSegmentStore({
  async put(cache, name, sha256, bytes) {
    if (globalThis.caches) await (await caches.open(cache)).put(key(name, sha256), new Response(bytes as Uint8Array<ArrayBuffer>));
  },
  async fill(cache, name, segments, src, end) {
    if (!src.supply || !globalThis.caches) return;
    const store = await caches.open(cache);
    for (const s of segments) {
      const have = (await src.prefix(0)).length;
      if (s.end <= have) continue;
      if (s.start > have || s.start >= end) return;
      const hit = await store.match(key(name, s.sha256));
      if (!hit) return;
      src.supply(new Uint8Array(await hit.arrayBuffer()).subarray(have - s.start));
    }
  },
});
