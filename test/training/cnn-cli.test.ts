// `sortednet train --arch cnn` and `sortednet eval` of a CNN checkpoint, through the functions
// training/cli.ts hands over to.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../../training/checkpoint.js';
import { archOf, cnnEvalCommand, cnnTrainCommand } from '../../training/cnn-cli.js';
import { subsetDir } from '../../training/data/fashion-mnist.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sortednet-cnn-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function capture(t: { mock: { method: (o: object, m: string, impl: (...a: unknown[]) => unknown) => unknown } }) {
  const out: string[] = [];
  const err: string[] = [];
  t.mock.method(console, 'log', (...a: unknown[]) => void out.push(a.join(' ')));
  t.mock.method(process.stderr, 'write', (s: unknown) => (err.push(String(s)), true));
  return { out, err };
}

void test('archOf finds --arch in either spelling', () => {
  assert.equal(archOf(['--epochs', '1', '--arch', 'cnn']), 'cnn');
  assert.equal(archOf(['--arch=cnn']), 'cnn');
  assert.equal(archOf(['--hidden', '64']), undefined);
});

void test('train --arch cnn on the committed subset writes a calibrated checkpoint; eval reproduces its table', async (t) => {
  const out = join(dir, 'cnn.safetensors');
  const c = capture(t);
  await cnnTrainCommand(['--arch', 'cnn', '--channels', '4', '--blocks', '2', '--depths', '1,2', '--widths', '0.5,1', '--epochs', '1', '--batch', '64',
    '--limit-train', '256', '--limit-test', '100', '--calibration-images', '128', '--data', subsetDir()!, '--backend', 'wasm', '--no-epoch-eval', '-q', '-o', out]);
  assert.match(c.out.join('\n'), /\| d2-w100 \|/);
  const ckpt = await readCheckpoint(out);
  assert.equal(ckpt.spec.arch, 'cnn');
  assert.deepEqual(ckpt.spec.config, { imageSize: 28, inChannels: 1, classes: 10, channels: 4, stages: 2, blocks: 2, stemStride: 2 });
  assert.equal(ckpt.spec.subnets.length, 4);
  assert.ok(ckpt.tensors['stages.1.blocks.1.bn2.stats.d2-w50.var'], 'statistics of every subnet are in the checkpoint');
  assert.ok((await stat(out.replace(/\.safetensors$/, '.accuracy.svg'))).size > 0);
  const table = c.out.join('\n');
  c.out.length = 0;
  await cnnEvalCommand(out, ckpt, { data: subsetDir()!, limitTest: 100 });
  assert.equal(c.out.join('\n'), table);
});

void test('bad flags name the flag and the fix', async () => {
  await assert.rejects(cnnTrainCommand(['--arch', 'cnn', '--chanels', '8']), /--chanels: unknown option\. Fix: did you mean --channels\?/);
  await assert.rejects(cnnTrainCommand(['--arch', 'cnn', '--blocks', '3', '--depths', '1,2']), /--depths: \[1,2\]\. Fix: use ascending block counts ending in blocks \(3\)/);
  await assert.rejects(cnnTrainCommand(['--arch', 'cnn', '--stem-stride', '3', '--limit-train', '1', '--data', subsetDir()!]), /stemStride: 3\. Fix: use 1 or 2/);
});
