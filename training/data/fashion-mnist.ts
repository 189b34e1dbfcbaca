/**
 * Fashion-MNIST loader. Looks for the four IDX files in, in order: `--data DIR` (an error if
 * they are missing there), `/usr/share/datasets/fashion-mnist`, then the subset committed in
 * `training/data/fashion-mnist-subset/` (first 3500 train and 1000 test images).
 *
 * @example
 * const ds = await loadFashionMnist({ limitTrain: 512 });
 * ds.source;          // 'system' | 'dir' | 'subset'
 * ds.train.images;    // Float32Array [n * 784], pixels / 255
 * ds.train.labels[0]; // 9
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SortedNetError } from '../../runtime/errors.js';
import { parseIdx } from './idx.js';

export interface Split {
  /** Row-major [n, 784] pixels scaled to [0, 1]. */
  images: Float32Array;
  /** Class per image, 0..9. */
  labels: Uint8Array;
  n: number;
  /** Values per image (rows * cols). */
  features: number;
}

export type DataSource = 'dir' | 'system' | 'subset';

export interface Dataset {
  name: 'fashion-mnist';
  /** Where the files came from: `--data DIR`, the system copy, or the committed subset. */
  source: DataSource;
  /** Folder the files were read from. */
  dir: string;
  inputSize: number;
  classes: number;
  train: Split;
  test: Split;
}

export interface LoadOptions {
  /** Folder with the four IDX files (`.gz` or not). @defaultValue the system copy, else the committed subset */
  dir?: string;
  /** Use at most this many training examples (the first ones). @defaultValue all */
  limitTrain?: number;
  /** Use at most this many test examples (the first ones). @defaultValue all */
  limitTest?: number;
}

export const SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';
export const CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** The committed subset, found from source (training/data/) and from the build (dist/training/data/). */
export function subsetDir(): string | undefined {
  const candidates = [new URL('./fashion-mnist-subset/', import.meta.url), new URL('../../../training/data/fashion-mnist-subset/', import.meta.url)];
  return candidates.map((u) => fileURLToPath(u)).find((d) => existsSync(join(d, `${FILES.trainLabels}.gz`)));
}

function fileIn(dir: string, base: string): string | undefined {
  return [`${base}.gz`, base].map((f) => join(dir, f)).find((p) => existsSync(p));
}

/** Which folder and source `load` will use. */
export function resolveDataDir(dir?: string): { dir: string; source: DataSource } {
  if (dir !== undefined) {
    const missing = Object.values(FILES).filter((b) => !fileIn(dir, b));
    if (missing.length) {
      throw new SortedNetError({ code: 'BAD_DATA', file: dir, field: '--data', found: `no ${missing.map((m) => `${m}.gz`).join(', ')}`, fix: 'point --data at a folder with the four Fashion-MNIST IDX files, or leave it out to use the committed subset' });
    }
    return { dir, source: 'dir' };
  }
  if (Object.values(FILES).every((b) => fileIn(SYSTEM_DIR, b))) return { dir: SYSTEM_DIR, source: 'system' };
  const sub = subsetDir();
  if (!sub) throw new SortedNetError({ code: 'BAD_DATA', file: 'training/data/fashion-mnist-subset', field: '(folder)', found: 'missing', fix: 'pass --data DIR with the Fashion-MNIST IDX files' });
  return { dir: sub, source: 'subset' };
}

async function readIdx(dir: string, base: string) {
  const path = fileIn(dir, base)!;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new SortedNetError({ code: 'IO', file: path, field: '(file)', found: `cannot read: ${(err as Error).message}`, fix: 'check the path and permissions', cause: err });
  }
  return { path, ...parseIdx(bytes, path) };
}

async function loadSplit(dir: string, imagesBase: string, labelsBase: string, limit?: number): Promise<Split> {
  const [img, lab] = await Promise.all([readIdx(dir, imagesBase), readIdx(dir, labelsBase)]);
  if (img.dims.length !== 3) throw new SortedNetError({ code: 'BAD_DATA', file: img.path, field: 'dims', found: JSON.stringify(img.dims), fix: 'images must be [n, rows, cols]' });
  if (lab.dims.length !== 1 || lab.dims[0] !== img.dims[0]) {
    throw new SortedNetError({ code: 'BAD_DATA', file: lab.path, field: 'dims', found: `${JSON.stringify(lab.dims)} for ${img.dims[0]} images`, fix: 'use the labels file that belongs to the images file' });
  }
  const bad = lab.data.findIndex((l) => l > 9);
  if (bad >= 0) throw new SortedNetError({ code: 'BAD_DATA', file: lab.path, field: `labels[${bad}]`, found: String(lab.data[bad]), fix: 'labels must be 0..9' });
  const n = Math.min(img.dims[0]!, limit ?? Infinity);
  const size = img.dims[1]! * img.dims[2]!;
  const images = new Float32Array(n * size);
  for (let i = 0; i < images.length; i++) images[i] = img.data[i]! / 255;
  return { images, labels: lab.data.slice(0, n), n, features: size };
}

/** Load both splits as floats. */
export async function loadFashionMnist(opts: LoadOptions = {}): Promise<Dataset> {
  const { dir, source } = resolveDataDir(opts.dir);
  // limitTrain 0 (evaluation) skips reading the large training file.
  const empty = (features: number): Split => ({ images: new Float32Array(0), labels: new Uint8Array(0), n: 0, features });
  const [trainRead, test] = await Promise.all([
    opts.limitTrain === 0 ? undefined : loadSplit(dir, FILES.trainImages, FILES.trainLabels, opts.limitTrain),
    opts.limitTest === 0 ? undefined : loadSplit(dir, FILES.testImages, FILES.testLabels, opts.limitTest),
  ]).then(([tr, te]) => [tr, te ?? empty(tr?.features ?? 784)] as const);
  const train = trainRead ?? empty(test.features);
  if (test.features !== train.features) {
    throw new SortedNetError({ code: 'BAD_DATA', file: join(dir, FILES.testImages), field: 'dims', found: `${test.features} values per image, train has ${train.features}`, fix: 'use train and test files of the same data set' });
  }
  return { name: 'fashion-mnist', source, dir, inputSize: train.features, classes: 10, train, test };
}

/** One line saying which data is used, for the CLI. */
export function describeData(ds: Dataset): string {
  const what = { dir: 'from --data', system: 'system copy', subset: 'committed subset' }[ds.source];
  const counts = ds.train.n ? `${ds.train.n} train, ${ds.test.n} test` : `${ds.test.n} test`;
  return `data: fashion-mnist (${what}, ${ds.dir}): ${counts}`;
}

/** A loaded data set as given, else Fashion-MNIST loaded with these options; refuses an empty training split. */
export async function trainingData(data: Dataset | LoadOptions | undefined): Promise<Dataset> {
  const ds = data !== undefined && 'train' in data ? data : await loadFashionMnist(data);
  if (ds.train.n === 0) throw new SortedNetError({ code: 'BAD_DATA', file: ds.dir, field: 'train', found: '0 examples', fix: 'use a larger --limit-train' });
  return ds;
}
