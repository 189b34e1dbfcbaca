// IDX reading: round trip, malformed files as BAD_DATA naming file and field, and which
// data folder the loader picks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { encodeIdx, parseIdx } from '../../training/data/idx.js';
import { loadFashionMnist, resolveDataDir, subsetDir } from '../../training/data/fashion-mnist.js';
import { SortedNetError } from '../../runtime/errors.js';

const isBadData = (field: string) => (e: unknown) => e instanceof SortedNetError && e.code === 'BAD_DATA' && e.field === field && e.message.startsWith('x.gz: ');

void test('IDX round trip, gzip or not', () => {
  const t = { dims: [2, 3, 2], data: Uint8Array.from({ length: 12 }, (_, i) => i * 20) };
  const gz = encodeIdx(t);
  const back = parseIdx(gz, 'a.gz');
  assert.deepEqual(back.dims, t.dims);
  assert.deepEqual([...back.data], [...t.data]);
  const raw = parseIdx(new Uint8Array(gunzipSync(gz)), 'a');
  assert.deepEqual(raw.dims, t.dims);
  assert.deepEqual([...raw.data], [...t.data]);
});

void test('malformed IDX is BAD_DATA naming file and field', () => {
  assert.throws(() => parseIdx(gzipSync(Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 1, 5])), 'x.gz'), isBadData('magic'));
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 5]), 'x.gz'), isBadData('magic.dtype'));
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 5]), 'x.gz'), isBadData('data'));
  assert.throws(() => parseIdx(Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3]), 'x.gz'), isBadData('gzip'));
  assert.throws(() => parseIdx(Uint8Array.from([0, 0]), 'x.gz'), isBadData('magic'));
});

void test('the committed subset loads and is small', async () => {
  const dir = subsetDir();
  assert.ok(dir, 'training/data/fashion-mnist-subset exists');
  const ds = await loadFashionMnist({ dir });
  assert.equal(ds.source, 'dir');
  assert.equal(ds.inputSize, 784);
  assert.ok(ds.train.n >= 3000 && ds.test.n === 1000, `${ds.train.n} / ${ds.test.n}`);
  assert.ok(ds.train.images.every((v) => v >= 0 && v <= 1));
  assert.equal(new Set(ds.train.labels).size, 10, 'every class present');
});

void test('--data pointing at a folder without the files is an error, not a silent fallback', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sortednet-data-'));
  try {
    assert.throws(() => resolveDataDir(dir), (e: unknown) => e instanceof SortedNetError && e.code === 'BAD_DATA' && e.field === '--data');
    // A corrupt images file in an otherwise complete folder.
    for (const f of ['train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) await copyFile(join(subsetDir()!, f), join(dir, f));
    await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(Buffer.from('not idx')));
    await assert.rejects(loadFashionMnist({ dir }), (e: unknown) => e instanceof SortedNetError && e.field === 'magic' && e.file.endsWith('train-images-idx3-ubyte.gz'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
