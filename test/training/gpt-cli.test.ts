// `sortednet train --arch gpt` and `sortednet eval` of a GPT checkpoint through main(argv),
// on two Brown documents, and every arch's --help listing the training-scheme flags.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/run-cli.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../../training/checkpoint.js';
import { validateTokenizer } from '../../training/tokenizer.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sortednet-gpt-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});


void test('train --arch gpt writes a checkpoint with its tokenizer; eval reproduces its perplexities', async (t) => {
  const out = join(dir, 'lm.safetensors');
  const r = await runCli(t, ['train', '--arch', 'gpt', '--context', '16', '--d-model', '16', '--layers', '2', '--heads', '2', '--ffn-hidden', '32',
    '--vocab-size', '280', '--head-levels', '1,2', '--ffn-levels', '0.5,1', '--steps', '4', '--batch', '2', '--warmup', '1', '--limit-docs', '2',
    '--eval-tokens', '256', '--sampling', 'sandwich', '--groups', '3', '--distill', '0.5', '--weight-decay', '0.1', '--cost-power', '1', '--backend', 'wasm', '-q', '-o', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /data: brown: 2 train \/ 2 held-out documents/);
  assert.match(r.out, /\| d2-h2-f100 +\| +2 \| +2 \| 1\.00 \|/);
  const ckpt = await readCheckpoint(out);
  assert.equal(ckpt.spec.arch, 'gpt');
  assert.deepEqual(ckpt.spec.dims, { depth: [1, 2], heads: [1, 2], ffn: [0.5, 1] }, '--depths defaults to 1..layers');
  assert.equal(ckpt.spec.training.sampling, 'sandwich');
  assert.equal(ckpt.spec.training.distill, 0.5);
  assert.equal(ckpt.spec.training.weightDecay, 0.1);
  assert.equal(ckpt.spec.training.costPower, 1);
  validateTokenizer(ckpt.spec.tokenizer);

  const e = await runCli(t, ['eval', out, '--limit-docs', '2', '--eval-tokens', '256', '--json']);
  assert.equal(e.code, 0, e.err);
  const subnets = JSON.parse(e.out) as { id: string; metrics: { perplexity: number } }[];
  assert.deepEqual(subnets.map((s) => s.id), ckpt.spec.subnets.map((s) => s.id));
  for (const [i, s] of subnets.entries()) assert.ok(Math.abs(s.metrics.perplexity - ckpt.spec.subnets[i]!.metrics.perplexity!) < 1e-3 * s.metrics.perplexity);

  const bad = await runCli(t, ['eval', out, '--limit-test', '10']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--limit-test: given for a gpt checkpoint\. Fix: use --eval-tokens or --limit-docs/);
});

void test('gpt flags are checked and named', async (t) => {
  const r = await runCli(t, ['train', '--arch', 'gpt', '--head-levels', '1,3', '--heads', '4', '--limit-docs', '1']);
  assert.equal(r.code, 2);
  assert.match(r.err, /^error: sortednet train: --head-levels: \[1,3\]\. Fix: use ascending head counts ending in heads \(4\)/);
  const s = await runCli(t, ['train', '--arch', 'gpt', '--sampling', 'all-exit']);
  assert.match(s.err, /--sampling: "all-exit"\. Fix: did you mean all-exits\?/);
  const d = await runCli(t, ['train', '--arch', 'gpt', '--distill', '2', '--limit-docs', '1']);
  assert.match(d.err, /--distill: 2\. Fix: use a weight in \[0, 1\]/);
  const c = await runCli(t, ['train', '--arch', 'gpt', '--cost-power', '5', '--limit-docs', '1']);
  assert.equal(c.code, 2);
  assert.match(c.err, /--cost-power: 5\. Fix: use a power in \[0, 4\]/);
  const l = await runCli(t, ['train', '--arch', 'cnn', '--late-from', '1.5', '--limit-train', '1']);
  assert.equal(l.code, 2);
  assert.match(l.err, /--late-from: 1\.5\. Fix: use a fraction of the steps in \(0, 1\]/);
  const g = await runCli(t, ['train', '--late-from', '0.5', '--late-groups', '1']);
  assert.match(g.err, /--late-groups: 1\. Fix: sandwich sampling needs 2 or more/);
  const w = await runCli(t, ['train', '--arch', 'cnn', '--largest-weight', '0', '--limit-train', '1']);
  assert.equal(w.code, 2);
  assert.match(w.err, /--largest-weight: 0\. Fix: use a weight in \(0, 100\]/);
});

void test('--help of every arch lists the training-scheme flags with defaults', async (t) => {
  for (const argv of [['train', '--help'], ['train', '--arch', 'cnn', '--help'], ['train', '--arch', 'gpt', '--help']]) {
    const r = await runCli(t, argv);
    assert.equal(r.code, 0);
    for (const flag of ['--sampling', '--distill A', '--distill-temperature', '--weight-decay', '--cost-power P', '--late-from F', '--late-sampling MODE', '--late-groups N', '--largest-weight W', '--checkpoint-every', '--resume']) assert.ok(r.out.includes(flag), `${argv.join(' ')}: ${flag}`);
    assert.match(r.out, /all-exits/);
    assert.match(r.out, /\(default 0: never\)/);
  }
  const gpt = await runCli(t, ['train', '--arch', 'gpt', '--help']);
  for (const flag of ['--context', '--d-model', '--layers', '--heads', '--ffn-hidden', '--vocab-size', '--depths', '--head-levels', '--ffn-levels', '--steps', '--eval-tokens', '--limit-docs']) assert.ok(gpt.out.includes(flag), flag);
  assert.match(gpt.out, /--sampling MODE +all-exits .*\(default all-exits\)/);
});
