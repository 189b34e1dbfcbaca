/**
 * One structured error type, thrown by the API and printed by both CLIs.
 *
 * @example
 * throw new SortedNetError({ file: 'model.onnx', field: 'subnet', found: '"d9-w10"',
 *   fix: 'use one of d1-w25, d1-w50', code: 'UNKNOWN_SUBNET' });
 * // message: model.onnx: subnet: found "d9-w10". Fix: use one of d1-w25, d1-w50
 */

/** Closed vocabulary of error codes, so callers can branch without parsing text. */
export type SortedNetErrorCode =
  | 'BAD_CHECKPOINT'
  | 'BAD_ONNX'
  | 'BAD_MANIFEST'
  | 'UNKNOWN_SUBNET'
  | 'IMPOSSIBLE_BUDGET'
  | 'BAD_OPTION'
  | 'BAD_INPUT'
  | 'BAD_DATA'
  | 'IO';

export interface SortedNetErrorInit {
  code: SortedNetErrorCode;
  /** File (or URL) the problem is in; `<memory>` for buffers, `<api>` for call arguments. */
  file: string;
  /** Dotted path of the offending field, e.g. `sortednet.dims.width.levels`. */
  field: string;
  /** What was found, already formatted for humans. */
  found: string;
  /** What to do about it. */
  fix: string;
  cause?: unknown;
}

export class SortedNetError extends Error {
  declare readonly code: SortedNetErrorCode;
  declare readonly file: string;
  declare readonly field: string;
  declare readonly found: string;
  declare readonly fix: string;

  constructor({ cause, ...init }: SortedNetErrorInit) {
    super(`${init.file}: ${init.field}: ${init.found}. Fix: ${init.fix}`, cause === undefined ? undefined : { cause });
    this.name = 'SortedNetError';
    Object.assign(this, init);
  }
}

/** Throw a SortedNetError; every module throws through this one call shape (a smaller bundle than object literals). */
export function raise(code: SortedNetErrorCode, file: string, field: string, found: string, fix: string, cause?: unknown): never {
  throw new SortedNetError({ code, file, field, found, fix, cause });
}

/** Suggest the closest candidate for a mistyped key (edit distance), esbuild-style. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) { bestD = d; best = c; }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** Reject keys not in `allowed`, naming the closest allowed key. */
export function rejectUnknownKeys(obj: object, allowed: readonly string[], code: SortedNetErrorCode, file: string, field: string): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const guess = didYouMean(key, allowed);
    raise(code, file, field ? `${field}.${key}` : key, `unknown key "${key}"`, guess ? `did you mean "${guess}"?` : `use only ${allowed.map((k) => `"${k}"`).join(', ')}`);
  }
}
