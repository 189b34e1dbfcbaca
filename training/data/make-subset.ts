/**
 * Rebuild the committed subset from the full data set:
 * `node --import tsx training/data/make-subset.ts [SRC_DIR] [TRAIN_N] [TEST_N]`.
 * Keeps the first TRAIN_N train and TEST_N test images (default 3500 and 1000, about 2 MB).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeIdx, parseIdx } from './idx.js';
import { SYSTEM_DIR } from './fashion-mnist.js';

export async function makeSubset(src: string, out: string, trainN: number, testN: number): Promise<void> {
  await mkdir(out, { recursive: true });
  const parts: [string, number][] = [
    ['train-images-idx3-ubyte', trainN], ['train-labels-idx1-ubyte', trainN],
    ['t10k-images-idx3-ubyte', testN], ['t10k-labels-idx1-ubyte', testN],
  ];
  for (const [base, n] of parts) {
    const file = join(src, `${base}.gz`);
    const t = parseIdx(await readFile(file), file);
    const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
    await writeFile(join(out, `${base}.gz`), encodeIdx({ dims: [n, ...t.dims.slice(1)], data: t.data.subarray(0, n * per) }));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [src = SYSTEM_DIR, train = '3500', test = '1000'] = process.argv.slice(2);
  await makeSubset(src, fileURLToPath(new URL('./fashion-mnist-subset/', import.meta.url)), Number(train), Number(test));
}
