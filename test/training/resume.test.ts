// Resume files: a run killed with SIGKILL and resumed ends bit-identical to an uninterrupted
// one (MLP through the CLI in a child process; CNN and GPT in process), and a damaged resume
// file, other data or another config is refused with a SortedNetError, leaving the last
// checkpoint untouched.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { initBackend } from '../../training/backend.js';
import { readCheckpoint, type Checkpoint } from '../../training/checkpoint.js';
import { main } from '../../training/cli.js';
import { loadFashionMnist, subsetDir, type Dataset } from '../../training/data/fashion-mnist.js';
import { train } from '../../training/loop.js';
import { readResume, resumePath } from '../../training/scheme/resume.js';
import { trainCnn } from '../../training/train-cnn.js';
import { trainGpt } from '../../training/train-gpt.js';
import { SortedNetError } from '../../runtime/errors.js';

let dir: string;
let data: Dataset;
before(async () => {
  await initBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'sortednet-resume-'));
  data = await loadFashionMnist({ dir: subsetDir(), limitTrain: 256, limitTest: 100 });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every tensor equal, bit for bit. */
function assertSameWeights(a: Checkpoint, b: Checkpoint): void {
  assert.deepEqual(Object.keys(a.tensors).sort(), Object.keys(b.tensors).sort());
  for (const [name, t] of Object.entries(a.tensors)) {
    const u = b.tensors[name]!;
    assert.deepEqual(u.dims, t.dims, name);
    assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength)), `${name} differs`);
  }
}

const quietConsole = (t: TestContext) => {
  t.mock.method(console, 'log', () => {});
  t.mock.method(process.stderr, 'write', () => true);
};

/** A training error thrown from inside the loop after `step` steps, as a crash would stop it. */
const crashAfter = (step: number) => (e: { type: string; step?: number }) => {
  if (e.type === 'step' && e.step === step) throw new Error('simulated crash');
};

void test('MLP: SIGKILL mid-run, --resume, and the result is bit-identical to an uninterrupted run', { timeout: 120_000 }, async (t) => {
  const args = (out: string) => ['train', '--hidden', '32', '--depths', '1,2', '--widths', '0.5,1', '--epochs', '3', '--batch', '16',
    '--limit-train', '1024', '--limit-test', '200', '--data', subsetDir()!, '--backend', 'wasm', '--seed', '5', '--sampling', 'all-exits', '--groups', '1',
    '--distill', '0.3', '--weight-decay', '0.01', '--checkpoint-every', '7', '--no-epoch-eval', '-q', '-o', out];
  const straight = join(dir, 'straight.safetensors');
  const killed = join(dir, 'killed.safetensors');

  // The run to be killed, in its own process.
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'cli-child.ts'), ...args(killed)], { cwd: join(import.meta.dirname, '../..'), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const deadline = Date.now() + 90_000;
  while (!existsSync(resumePath(killed)) && child.exitCode === null && Date.now() < deadline) await sleep(2);
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', `the child should still be training when killed; stderr: ${stderr}`);
  assert.ok(!existsSync(killed), 'killed before its final checkpoint');
  const { state } = await readResume(resumePath(killed), 'mlp');
  console.log(`  killed after step ${state.step} of ${state.totalSteps} was saved`);
  assert.ok(state.step >= 7 && state.step < state.totalSteps && state.step % 7 === 0);

  // The uninterrupted run, and the resumed one (only data and run flags repeated).
  quietConsole(t);
  process.exitCode = undefined;
  await main(args(straight));
  await main(['train', '--resume', '--data', subsetDir()!, '--limit-train', '1024', '--limit-test', '200', '--backend', 'wasm', '-q', '-o', killed]);
  assert.equal(process.exitCode, undefined, 'both runs succeed');
  const [a, b] = await Promise.all([readCheckpoint(straight), readCheckpoint(killed)]);
  assertSameWeights(a, b);
  assert.deepEqual(b.spec.subnets.map((s) => s.metrics), a.spec.subnets.map((s) => s.metrics));
  assert.equal(b.spec.training.finalLoss, a.spec.training.finalLoss);
  assert.equal(b.spec.training.resumedAt, state.step);
  assert.ok(!existsSync(resumePath(killed)) && !existsSync(resumePath(straight)), 'finished runs remove their resume files');
});

void test('CNN and GPT: a crashed run resumed in process matches the uninterrupted run exactly', { timeout: 60_000 }, async () => {
  const cnn = {
    channels: 4, stages: 2, blocks: 2, depths: [1, 2], widths: [0.5, 1], epochs: 2, batch: 32, lr: 0.01, warmupSteps: 2, groups: 2,
    sampling: 'all-exits' as const, distill: 0.5, weightDecay: 0.05, calibrationImages: 64, evalEachEpoch: false, seed: 2, data,
  };
  const cnnOut = join(dir, 'cnn.safetensors');
  const plain = await trainCnn(cnn);
  await assert.rejects(trainCnn({ ...cnn, out: cnnOut, checkpointEvery: 3, onProgress: crashAfter(11) }), /simulated crash/);
  assert.equal((await readResume(resumePath(cnnOut), 'cnn')).state.step, 9);
  const resumed = await trainCnn({ out: cnnOut, resume: true, data });
  assertSameWeights(plain.checkpoint, resumed.checkpoint);
  assert.deepEqual(resumed.losses, plain.losses);
  assert.deepEqual(resumed.subnets, plain.subnets);

  const text = readFileSync(new URL('../fixtures/lm-tiny.txt', import.meta.url), 'utf8');
  const half = Math.floor(text.length * 0.8);
  const gpt = {
    steps: 12, batch: 4, context: 16, dModel: 16, layers: 2, heads: 2, ffnHidden: 32, vocabSize: 300, depths: [1, 2], headLevels: [1, 2],
    ffnLevels: [0.5, 1], warmupSteps: 2, sampling: 'sandwich' as const, groups: 3, distill: 0.5, weightDecay: 0.1, backend: 'wasm' as const,
    data: { train: [text.slice(0, half)], test: [text.slice(half)] },
  };
  const lmOut = join(dir, 'lm.safetensors');
  const lm = await trainGpt(gpt);
  await assert.rejects(trainGpt({ ...gpt, out: lmOut, checkpointEvery: 5, onProgress: crashAfter(8) }), /simulated crash/);
  const lmResumed = await trainGpt({ out: lmOut, resume: true, data: gpt.data });
  assertSameWeights(lm.checkpoint, lmResumed.checkpoint);
  assert.deepEqual(lmResumed.losses, lm.losses);
  assert.deepEqual(lmResumed.subnets.map((s) => s.metrics), lm.subnets.map((s) => s.metrics));
  assert.deepEqual(lmResumed.tokenizer, lm.tokenizer, 'the tokenizer comes from the resume file');
});

void test('a damaged resume file, other data or another config is refused; the last checkpoint is untouched', async (t) => {
  const out = join(dir, 'guarded.safetensors');
  const config = { hidden: 16, depths: [1, 2], widths: [0.5, 1], epochs: 2, batch: 32, evalEachEpoch: false, data, out };
  await train(config); // a finished run's checkpoint
  const finished = await readFile(out);
  await assert.rejects(train({ ...config, checkpointEvery: 4, onProgress: crashAfter(10) }), /simulated crash/);
  const file = resumePath(out);
  const good = await readFile(file);
  const refused = async (bytes: Uint8Array | undefined, options: object, check: (e: SortedNetError) => boolean) => {
    if (bytes) await writeFile(file, bytes);
    await assert.rejects(train({ ...config, resume: true, ...options }), (e: unknown) => e instanceof SortedNetError && check(e));
    assert.ok((await readFile(out)).equals(finished), 'the checkpoint is untouched');
  };

  const flipped = Buffer.from(good);
  flipped[flipped.length - 5]! ^= 0x40; // one bit of Adam's moments
  await refused(flipped, {}, (e) => e.code === 'BAD_CHECKPOINT' && e.file === file && /sha256/.test(e.field));
  assert.ok((await readFile(file)).equals(flipped), 'a refused resume file is left as it was');
  await refused(good.subarray(0, good.length - 100), {}, (e) => e.code === 'BAD_CHECKPOINT' && e.file === file);
  await refused(good.subarray(0, 4), {}, (e) => e.code === 'BAD_CHECKPOINT');
  await refused(good, { hidden: 64 }, (e) => e.code === 'BAD_OPTION' && e.field === 'hidden' && /resumed has 16/.test(e.found));
  await refused(undefined, { data: await loadFashionMnist({ dir: subsetDir(), limitTrain: 288, limitTest: 100 }) }, (e) => e.code === 'BAD_DATA');
  await rm(file);
  await refused(undefined, {}, (e) => e.code === 'IO' && /--checkpoint-every/.test(e.fix));
  await assert.rejects(train({ hidden: 16, checkpointEvery: 5, data }), (e: unknown) => e instanceof SortedNetError && e.field === 'checkpointEvery' && /give out/.test(e.fix));

  // Through the CLI: a one-line error and a non-zero exit code.
  await writeFile(file, flipped);
  const err: string[] = [];
  t.mock.method(console, 'error', (...a: unknown[]) => void err.push(a.join(' ')));
  t.mock.method(process.stderr, 'write', () => true);
  process.exitCode = undefined;
  await main(['train', '--resume', '--data', subsetDir()!, '--limit-train', '256', '--limit-test', '100', '-q', '-o', out]);
  assert.equal(process.exitCode, 1);
  process.exitCode = undefined;
  assert.match(err.join('\n'), /^error: .*guarded\.resume\.safetensors: __metadata__\.sortednet\.resume\.sha256: does not match the file contents/);
  assert.ok((await readFile(out)).equals(finished));
});
