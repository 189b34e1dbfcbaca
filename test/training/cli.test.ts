// `sortednet train` and `sortednet eval` through main(argv), as bin/sortednet.js calls them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/run-cli.js';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../../training/checkpoint.js';
import { subsetDir } from '../../training/data/fashion-mnist.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sortednet-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});


void test('train on the committed subset writes a checkpoint and prints the table', async (t) => {
  const out = join(dir, 'tiny.safetensors');
  const r = await runCli(t, ['train', '--hidden', '32', '--depths', '1,2', '--widths', '0.5,1', '--epochs', '1', '--limit-train', '512', '--limit-test', '200', '--data', subsetDir()!, '--backend', 'wasm', '--seed', '3', '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /backend: wasm/);
  assert.match(r.err, /data: fashion-mnist \(from --data, .*\): 512 train, 200 test/);
  assert.match(r.out, /\| d2-w100 +\| +2 \| +1\.00 \|/);
  const ckpt = await readCheckpoint(out);
  assert.equal(ckpt.spec.subnets.length, 4);
  assert.equal(ckpt.spec.training.seed, 3);
  assert.ok((await stat(join(dir, 'tiny.accuracy.svg'))).size > 1000);

  const e = await runCli(t, ['eval', out, '--data', subsetDir()!, '--limit-test', '200', '--json']);
  assert.equal(e.code, 0, e.err);
  const subnets = JSON.parse(e.out) as { id: string; metrics: { accuracy: number } }[];
  assert.deepEqual(subnets.map((s) => s.metrics.accuracy), ckpt.spec.subnets.map((s) => s.metrics.accuracy));
});

void test('an unknown option is a one-line error with a suggestion and a non-zero exit code', async (t) => {
  const r = await runCli(t, ['train', '--hiden', '64']);
  assert.notEqual(r.code, 0);
  assert.equal(r.err, 'error: sortednet train: --hiden: unknown option. Fix: did you mean --hidden?');
  assert.equal(r.out, '');
});

void test('bad values and commands name the flag', async (t) => {
  const cases: [string[], RegExp][] = [
    [['train', '--widths', '0.5,0.25,1'], /^error: sortednet train: --widths: .*ascending/],
    [['train', '--sampling', 'sandwhich'], /did you mean sandwich\?/],
    [['train', '--epochs', 'ten'], /--epochs: "ten"/],
    [['trian'], /did you mean `sortednet train`\?/],
    [['eval'], /<checkpoint>: missing/],
    [['eval', join(dir, 'missing.safetensors')], /missing\.safetensors: \(file\): cannot read/],
  ];
  for (const [argv, re] of cases) {
    const r = await runCli(t, argv);
    assert.notEqual(r.code, 0, argv.join(' '));
    assert.match(r.err, re);
    assert.equal(r.err.split('\n').length, 1, 'one line');
  }
});

void test('--help shows grouped options with defaults', async (t) => {
  const r = await runCli(t, ['train', '--help']);
  assert.equal(r.code, 0);
  for (const s of ['Model:', 'Optimisation:', 'Data:', 'Run:', '--hidden N', '(default 512)', '--sampling MODE', '(default sandwich)']) assert.ok(r.out.includes(s), s);
  const e = await runCli(t, ['eval', '--help']);
  assert.match(e.out, /Usage: sortednet eval/);
});
