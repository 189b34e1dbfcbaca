// Checkpoint written by train(): round trip through the file, the spec it carries, and
// truncated or corrupt files failing with BAD_CHECKPOINT naming the file.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../training/backend.js';
import { readCheckpoint, decodeCheckpoint } from '../../training/checkpoint.js';
import { loadFashionMnist, subsetDir } from '../../training/data/fashion-mnist.js';
import { train, type TrainResult } from '../../training/loop.js';
import { forwardSubnet, mlpShapeOf } from '../../training/models/mlp.js';
import type { MlpConfig } from '../../training/spec.js';
import { SortedNetError } from '../../runtime/errors.js';

let dir: string;
let result: TrainResult;
before(async () => {
  await initBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'sortednet-ckpt-'));
  const data = await loadFashionMnist({ dir: subsetDir(), limitTrain: 256, limitTest: 100 });
  result = await train({ hidden: 16, depths: [1, 2], widths: [0.5, 1], epochs: 1, batch: 64, data, out: join(dir, 'model.safetensors') });
});

void test('round trip: the file holds the spec and the weights forwardSubnet needs', async () => {
  const path = join(dir, 'model.safetensors');
  assert.deepEqual(result.files, { checkpoint: path, plot: join(dir, 'model.accuracy.svg') });
  const ckpt = await readCheckpoint(path);
  assert.deepEqual(ckpt.spec, JSON.parse(JSON.stringify(result.checkpoint.spec)));
  assert.equal(ckpt.spec.arch, 'mlp');
  assert.deepEqual(ckpt.spec.config as MlpConfig, { inputSize: 784, hidden: 16, classes: 10 });
  assert.deepEqual(ckpt.spec.dims, { depth: [1, 2], width: [0.5, 1] });
  assert.deepEqual(ckpt.spec.subnets.map((s) => s.id), ['d1-w50', 'd1-w100', 'd2-w50', 'd2-w100']);
  for (const s of ckpt.spec.subnets) {
    assert.ok(s.params > 0 && s.macs > 0 && typeof s.metrics.accuracy === 'number' && typeof s.metrics.loss === 'number');
  }
  assert.equal(ckpt.spec.training.sampling, 'sandwich');
  assert.equal(ckpt.spec.data?.train, 256);
  assert.deepEqual(mlpShapeOf(ckpt.tensors).depth, 2);
  for (const [name, t] of Object.entries(result.checkpoint.tensors)) assert.deepEqual(ckpt.tensors[name], t, name);
  const x = new Float32Array(3 * 784).map((_, i) => (i % 255) / 255);
  assert.deepEqual(forwardSubnet(ckpt.tensors, { depth: 1, width: 0.5 }, x, 3), forwardSubnet(result.checkpoint.tensors, { depth: 1, width: 0.5 }, x, 3));
  const svg = await readFile(join(dir, 'model.accuracy.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), [], 'no temp files left');
});

void test('a truncated checkpoint fails with BAD_CHECKPOINT naming the file', async () => {
  const bytes = await readFile(join(dir, 'model.safetensors'));
  const cases: [string, Uint8Array][] = [
    ['empty.safetensors', bytes.subarray(0, 4)],
    ['cut-header.safetensors', bytes.subarray(0, 100)],
    ['cut-data.safetensors', bytes.subarray(0, bytes.length - 10)],
  ];
  for (const [name, b] of cases) {
    const path = join(dir, name);
    await writeFile(path, b);
    await assert.rejects(readCheckpoint(path), (e: unknown) => {
      assert.ok(e instanceof SortedNetError, `${name}: ${String(e)}`);
      assert.equal(e.code, 'BAD_CHECKPOINT');
      assert.ok(e.message.includes(path), e.message);
      return true;
    });
  }
});

void test('a corrupt checkpoint fails with BAD_CHECKPOINT naming the file and field', async () => {
  const bytes = new Uint8Array(await readFile(join(dir, 'model.safetensors')));
  const corrupt = bytes.slice();
  corrupt[12] = 0xff; // inside the JSON header
  assert.throws(() => decodeCheckpoint(corrupt, 'bad.safetensors'), (e: unknown) => e instanceof SortedNetError && e.code === 'BAD_CHECKPOINT' && e.message.startsWith('bad.safetensors: '));
  // A checkpoint whose tensors do not fit the mlp layout.
  const ckpt = decodeCheckpoint(bytes, 'ok.safetensors');
  delete ckpt.tensors['head.bias'];
  assert.throws(() => forwardSubnet(ckpt.tensors, {}, new Float32Array(784), 1), (e: unknown) => e instanceof SortedNetError && e.code === 'BAD_CHECKPOINT' && e.field === 'head.bias');
});

void test('cleanup', async () => {
  await rm(dir, { recursive: true, force: true });
});
