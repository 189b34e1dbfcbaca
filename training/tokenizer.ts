/**
 * Byte-level BPE tokenizer, trained by sortednet and stored in the checkpoint's `tokenizer`
 * field. With no merges it is a plain byte tokenizer (vocab 257). Pure JS with no TensorFlow.js
 * import, so the runtime or an app can encode text from the checkpoint JSON alone.
 *
 * Text is split into chunks (words with their leading space, numbers, punctuation runs,
 * whitespace) by `pattern`, each chunk becomes its UTF-8 bytes (ids 0..255), and the merges
 * are applied in rank order (merge i creates id 256 + i). The last id is `<|endoftext|>`,
 * which training puts between documents; `encode` never produces it from text.
 *
 * @example
 * const tok = trainBpe('the cat sat on the mat', { vocabSize: 300 });
 * tok.vocabSize;                      // 260: only 3 pairs occur twice or more
 * const ids = encode(tok, 'the mat'); // [258, 32, 109, 256]
 * decode(tok, ids);                   // 'the mat'
 */
import { SortedNetError } from '../runtime/errors.js';

/** The JSON stored in `sortednet.tokenizer`. */
export interface BpeTokenizerSpec {
  type: 'bpe-bytes';
  version: 1;
  /** Chunking regex source, compiled with flags `gu`. Merges never cross chunk boundaries. */
  pattern: string;
  /** Merge i joins ids `[a, b]` into id 256 + i. */
  merges: [number, number][];
  /** 256 + merges.length + 1 (bytes, merges, then end-of-text). */
  vocabSize: number;
  /** Id of `<|endoftext|>`: vocabSize - 1. */
  eot: number;
}

/** GPT-2's pre-tokenizer pattern, with Unicode classes. */
export const DEFAULT_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

export interface TrainBpeOptions {
  /** Target vocabulary size including the 256 bytes and end-of-text. @defaultValue 1024 */
  vocabSize?: number;
  /** Stop merging when the best pair occurs fewer times than this. @defaultValue 2 */
  minFrequency?: number;
  /** @defaultValue DEFAULT_PATTERN */
  pattern?: string;
}

const utf8 = new TextEncoder();

function chunkCounts(text: string, pattern: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(pattern, 'gu'))) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  return counts;
}

/**
 * Learn merges from `text` (or several documents). Deterministic: ties go to the pair with
 * the smaller ids. Pair counts are updated incrementally, so 6 MB of text trains in seconds.
 */
export function trainBpe(text: string | string[], opts: TrainBpeOptions = {}): BpeTokenizerSpec {
  const vocabSize = opts.vocabSize ?? 1024;
  const minFrequency = opts.minFrequency ?? 2;
  const pattern = opts.pattern ?? DEFAULT_PATTERN;
  if (!Number.isInteger(vocabSize) || vocabSize < 257) {
    throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'vocabSize', found: String(vocabSize), fix: 'use an integer >= 257 (256 bytes + end-of-text)' });
  }
  const counts = new Map<string, number>();
  for (const doc of Array.isArray(text) ? text : [text]) {
    for (const [c, n] of chunkCounts(doc, pattern)) counts.set(c, (counts.get(c) ?? 0) + n);
  }
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [c, n] of counts) {
    words.push(Array.from(utf8.encode(c)));
    freq.push(n);
  }
  // pair key a * 65536 + b -> total count, and -> the words that contain it
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addWord = (w: number, sign: 1 | -1): void => {
    const ids = words[w]!;
    for (let i = 0; i + 1 < ids.length; i++) {
      const key = ids[i]! * 65536 + ids[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * freq[w]!);
      if (sign > 0) {
        let s = pairWords.get(key);
        if (!s) pairWords.set(key, (s = new Set()));
        s.add(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addWord(w, 1);

  const merges: [number, number][] = [];
  while (256 + merges.length + 1 < vocabSize) {
    let best = -1;
    let bestN = 0;
    for (const [key, n] of pairCount) {
      if (n > bestN || (n === bestN && key < best)) {
        best = key;
        bestN = n;
      }
    }
    if (best < 0 || bestN < minFrequency) break;
    const a = Math.floor(best / 65536);
    const b = best % 65536;
    const id = 256 + merges.length;
    merges.push([a, b]);
    for (const w of pairWords.get(best) ?? []) {
      addWord(w, -1);
      words[w] = mergePair(words[w]!, a, b, id);
      addWord(w, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
    for (const [key, n] of pairCount) if (n <= 0) pairCount.delete(key);
  }
  return { type: 'bpe-bytes', version: 1, pattern, merges, vocabSize: 256 + merges.length + 1, eot: 256 + merges.length };
}

function mergePair(ids: number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) {
      out.push(id);
      i++;
    } else {
      out.push(ids[i]!);
    }
  }
  return out;
}

/** Byte-only tokenizer (no merges): vocab 257. */
export function byteTokenizer(pattern = DEFAULT_PATTERN): BpeTokenizerSpec {
  return { type: 'bpe-bytes', version: 1, pattern, merges: [], vocabSize: 257, eot: 256 };
}

/** A compiled tokenizer: merge ranks and a chunk cache. Build once with `compile`, reuse. */
export interface Tokenizer {
  spec: BpeTokenizerSpec;
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
}

const compiled = new WeakMap<BpeTokenizerSpec, Tokenizer>();

/** Compile (and cache per spec object) the encoder and decoder. */
export function compile(spec: BpeTokenizerSpec): Tokenizer {
  const hit = compiled.get(spec);
  if (hit) return hit;
  validateTokenizer(spec);
  const rank = new Map<number, number>();
  spec.merges.forEach(([a, b], i) => rank.set(a * 65536 + b, i));
  const bytesOf: Uint8Array[] = [];
  for (let i = 0; i < 256; i++) bytesOf.push(Uint8Array.of(i));
  for (const [a, b] of spec.merges) {
    const x = bytesOf[a]!;
    const y = bytesOf[b]!;
    const z = new Uint8Array(x.length + y.length);
    z.set(x);
    z.set(y, x.length);
    bytesOf.push(z);
  }
  bytesOf.push(new Uint8Array(0)); // end-of-text decodes to nothing
  const cache = new Map<string, number[]>();
  const re = new RegExp(spec.pattern, 'gu');

  const encodeChunk = (chunk: string): number[] => {
    const hit = cache.get(chunk);
    if (hit) return hit;
    let ids = Array.from(utf8.encode(chunk));
    for (;;) {
      let bestRank = Infinity;
      let pair = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = rank.get(ids[i]! * 65536 + ids[i + 1]!);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          pair = i;
        }
      }
      if (pair < 0) break;
      const [a, b] = spec.merges[bestRank]!;
      ids = mergePair(ids, a, b, 256 + bestRank);
    }
    if (cache.size < 200_000) cache.set(chunk, ids);
    return ids;
  };

  const tok: Tokenizer = {
    spec,
    encode(text) {
      const out: number[] = [];
      for (const m of text.matchAll(re)) for (const id of encodeChunk(m[0])) out.push(id);
      return out;
    },
    decode(ids) {
      const parts: Uint8Array[] = [];
      let n = 0;
      for (let i = 0; i < ids.length; i++) {
        const b = bytesOf[ids[i]!];
        if (!b) throw new SortedNetError({ code: 'BAD_INPUT', file: '<api>', field: `ids[${i}]`, found: String(ids[i]), fix: `token ids must be integers in [0, ${spec.vocabSize})` });
        parts.push(b);
        n += b.length;
      }
      const all = new Uint8Array(n);
      let pos = 0;
      for (const p of parts) {
        all.set(p, pos);
        pos += p.length;
      }
      return new TextDecoder().decode(all);
    },
  };
  compiled.set(spec, tok);
  return tok;
}

export function encode(spec: BpeTokenizerSpec, text: string): number[] {
  return compile(spec).encode(text);
}

export function decode(spec: BpeTokenizerSpec, ids: ArrayLike<number>): string {
  return compile(spec).decode(ids);
}

/** Check a tokenizer read from a checkpoint; errors name the field and the fix. */
export function validateTokenizer(spec: unknown, file = '<api>'): asserts spec is BpeTokenizerSpec {
  const fail = (field: string, found: string, fix: string): never => {
    throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field: `sortednet.tokenizer${field}`, found, fix });
  };
  const s = spec as Partial<BpeTokenizerSpec> | null;
  if (typeof s !== 'object' || s === null) return fail('', JSON.stringify(spec), 'store a tokenizer object (see docs/gpt.md)');
  if (s.type !== 'bpe-bytes') fail('.type', JSON.stringify(s.type), 'this sortednet reads "bpe-bytes" tokenizers');
  if (s.version !== 1) fail('.version', JSON.stringify(s.version), 'this sortednet reads tokenizer version 1');
  if (typeof s.pattern !== 'string') fail('.pattern', JSON.stringify(s.pattern), 'give the chunking regex source');
  if (!Array.isArray(s.merges)) return fail('.merges', JSON.stringify(s.merges), 'give merges as [[a, b], ...]');
  s.merges.forEach((m, i) => {
    const ok = Array.isArray(m) && m.length === 2 && m.every((x) => Number.isInteger(x) && x >= 0 && x < 256 + i);
    if (!ok) fail(`.merges[${i}]`, JSON.stringify(m), `each merge is two ids below ${256 + i}`);
  });
  const vocab = 256 + s.merges.length + 1;
  if (s.vocabSize !== vocab) fail('.vocabSize', JSON.stringify(s.vocabSize), `set it to ${vocab} (256 bytes + ${s.merges.length} merges + end-of-text)`);
  if (s.eot !== vocab - 1) fail('.eot', JSON.stringify(s.eot), `set it to ${vocab - 1}`);
}
