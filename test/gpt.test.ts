// Sorted GPT end to end: tokenizer round trip, Brown text cleaning, a training step that
// leaks no tensors, the all-exits loss, and every subnet agreeing across the tfjs forward, the
// runtime on the packed file, and plain onnxruntime-node on the extracted file.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../training/backend.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../training/checkpoint.js';
import { brownToText } from '../training/data/brown.js';
import { allExitsLoss, evaluateGpt, lmTrainStep, sampleWindows } from '../training/lm.js';
import { evalGptCheckpoint, resolveGptConfig, trainGpt } from '../training/train-gpt.js';
import { gptForwardSubnet, initGptTensors, SortedGpt, type GptConfig } from '../training/models/gpt.js';
import { Rng } from '../training/rng.js';
import { latticeOf, subnetId, type SortedSpec } from '../training/spec.js';
import { byteTokenizer, compile, trainBpe, validateTokenizer } from '../training/tokenizer.js';
import { gptBlocks } from '../runtime/graphs/gpt.js';
import { SortedNetError } from '../runtime/errors.js';
import { SortedModel } from '../runtime/node.js';
import { packCheckpoint } from '../packager/pack.js';
import { extractSubnet } from '../packager/extract.js';
import { gptExporter } from '../packager/exporters/gpt.js';

const fixture = readFileSync(new URL('./fixtures/lm-tiny.txt', import.meta.url), 'utf8');

before(async () => {
  await initBackend('wasm');
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

void test('BPE tokenizer: deterministic training, exact round trip, byte fallback for unseen text', () => {
  const spec = trainBpe(fixture, { vocabSize: 320 });
  assert.equal(spec.vocabSize, 320);
  assert.equal(spec.eot, 319);
  assert.deepEqual(trainBpe(fixture, { vocabSize: 320 }), spec, 'same text, same merges');
  const tok = compile(spec);
  const ids = tok.encode(fixture);
  assert.ok(ids.length < new TextEncoder().encode(fixture).length * 0.6, `merges compress the training text (${ids.length} tokens)`);
  assert.equal(tok.decode(ids), fixture);
  const unseen = 'Zebras 𝄞 ünïcödé — 日本語, 42!\n\ttabs';
  assert.equal(tok.decode(tok.encode(unseen)), unseen);
  assert.ok(ids.every((i) => i >= 0 && i < spec.eot), 'text never encodes to end-of-text');
  const bytes = byteTokenizer();
  assert.deepEqual(compile(bytes).encode('hi'), [104, 105]);
  assert.equal(compile(bytes).decode([104, 105, bytes.eot]), 'hi');
  // The checkpoint stores it as JSON: it survives the round trip and validates.
  validateTokenizer(JSON.parse(JSON.stringify(spec)));
  assert.throws(() => validateTokenizer({ ...spec, vocabSize: 9 }, 'lm.safetensors'), (e: unknown) => e instanceof SortedNetError && e.field === 'sortednet.tokenizer.vocabSize');
  assert.throws(() => validateTokenizer({ ...spec, merges: [[300, 1]] }), (e: unknown) => e instanceof SortedNetError && e.field === 'sortednet.tokenizer.merges[0]');
});

void test('Brown tagged text becomes plain text', () => {
  const raw = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, (/( 1-1/2/cd )/) ./.\n\n\n\tIt/pps ended/vbd ;/. Atlanta's/np$ mayor/nn won/vbd !/.\n";
  assert.equal(brownToText(raw), 'The jury said "no evidence", (1-1/2).\nIt ended; Atlanta\'s mayor won!');
});

const tiny: GptConfig = { vocabSize: 40, context: 8, dModel: 16, layers: 2, heads: 4, ffnHidden: 32 };
const tinyDims = { depth: [1, 2], heads: [2, 4], ffn: [0.5, 1] };

/** Weights far from init (random norms and biases), so every tensor matters in the comparison. */
function randomCheckpoint(config: GptConfig, dims: typeof tinyDims, seed: number): Checkpoint {
  const tensors = initGptTensors(config, new Rng(seed));
  const rng = new Rng(seed + 1);
  for (const [name, t] of Object.entries(tensors)) {
    const isNorm = /ln(1|2|_f)\.weight$/.test(name);
    for (let i = 0; i < t.data.length; i++) t.data[i] = isNorm ? 1 + rng.uniform(-0.3, 0.3) : rng.uniform(-0.4, 0.4);
  }
  const spec: SortedSpec = {
    format: 'sortednet-checkpoint', version: 1, arch: 'gpt', config: { ...config }, dims,
    subnets: latticeOf(dims).map((levels) => ({ id: subnetId(levels), levels, params: 0, macs: 0, metrics: { perplexity: 10 } })),
    training: {}, tokenizer: { ...byteTokenizer() },
  };
  return { spec, tensors };
}

void test('blocks store every nested weight exactly once', () => {
  const blocks = gptBlocks(tiny, tinyDims);
  const covered = new Map<string, number>();
  for (const b of blocks) covered.set(b.source, (covered.get(b.source) ?? 0) + b.dims.reduce((a, c) => a * c, 1));
  const tensors = initGptTensors(tiny, new Rng(0));
  assert.deepEqual([...covered.keys()].sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) assert.equal(covered.get(name), t.data.length, name);
  assert.equal(new Set(blocks.map((b) => b.name)).size, blocks.length);
});

void test('every subnet agrees: tfjs forward, runtime on the packed file, onnxruntime on the extracted file', async () => {
  const ckpt = decodeCheckpoint(encodeCheckpoint(randomCheckpoint(tiny, tinyDims, 7)));
  const model = SortedGpt.fromTensors(tiny, ckpt.tensors);
  const { bytes, manifest } = packCheckpoint(ckpt);
  assert.equal(manifest.subnets.length, 8);
  const prefixes = manifest.subnets.map((s) => s.prefixBytes);
  assert.deepEqual(prefixes, [...prefixes].sort((a, b) => a - b), 'smaller subnets need shorter prefixes');
  const sorted = await SortedModel.load(bytes, { ort, calibrate: false });
  const batch = 2;
  const seq = 5; // shorter than the context: the graph slices positions and mask
  const rng = new Rng(3);
  const ids = Int32Array.from({ length: batch * seq }, () => rng.int(tiny.vocabSize));
  const idsTensor = new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [batch, seq]);
  let worst = 0;
  try {
    for (const s of manifest.subnets) {
      const want = gptForwardSubnet(model, s.levels, ids, batch, seq);
      const packed = (await sorted.run({ input_ids: idsTensor }, { subnet: s.id })).logits!;
      assert.deepEqual([...packed.dims], [batch, seq, tiny.vocabSize]);
      const session = await ort.InferenceSession.create(extractSubnet(bytes, s.id).bytes);
      const plain = (await session.run({ input_ids: idsTensor })).logits!;
      await session.release();
      const d1 = maxAbsDiff(packed.data as Float32Array, want);
      const d2 = maxAbsDiff(plain.data as Float32Array, want);
      worst = Math.max(worst, d1, d2);
      assert.ok(d1 < 1e-4 && d2 < 1e-4, `${s.id}: runtime maxdiff ${d1}, extracted maxdiff ${d2}`);
    }
  } finally {
    await sorted.release();
    model.dispose();
  }
  console.log(`  8 subnets, tfjs vs runtime vs extracted: maxdiff ${worst.toExponential(2)}`);
});

void test('the exporter names a missing or misshaped tensor', () => {
  const ckpt = randomCheckpoint(tiny, tinyDims, 1);
  delete ckpt.tensors['layers.1.ffn.up.weight'];
  assert.throws(() => gptExporter.plan(ckpt, 'lm.safetensors'), (e: unknown) => e instanceof SortedNetError && e.file === 'lm.safetensors' && e.field === 'layers.1.ffn.up.weight');
  const bad = randomCheckpoint(tiny, { ...tinyDims, heads: [2, 3] }, 1);
  assert.throws(() => gptExporter.plan(bad, 'lm.safetensors'), (e: unknown) => e instanceof SortedNetError && e.field === 'sortednet.dims.heads');
});

void test('all-exits loss is the sum of the depth exits, and a training step leaks no tensors', () => {
  const tok = trainBpe(fixture, { vocabSize: 300 });
  const tokens = Int32Array.from(compile(tok).encode(fixture));
  const config: GptConfig = { vocabSize: tok.vocabSize, context: 16, dModel: 16, layers: 2, heads: 2, ffnHidden: 32 };
  const rng = new Rng(0);
  const model = SortedGpt.init(config, rng);
  const optimizer = tf.train.adam(3e-3);
  try {
    const b = sampleWindows(tokens, 4, 16, rng);
    tf.tidy(() => {
      const ids = tf.tensor1d(b.ids, 'int32');
      const targets = tf.tensor1d(b.targets, 'int32');
      const { total, exits } = allExitsLoss(model, ids, targets, 4, 16, { heads: 1, ffn: 0.5 }, [1, 2]);
      const single = [1, 2].map((d) => allExitsLoss(model, ids, targets, 4, 16, { heads: 1, ffn: 0.5 }, [d]).total.dataSync()[0]!);
      assert.ok(Math.abs(total.dataSync()[0]! - single[0]! - single[1]!) < 1e-5);
      assert.ok(Math.abs(exits[1]!.dataSync()[0]! - single[1]!) < 1e-6);
    });
    const first = lmTrainStep(model, optimizer, b, { heads: 2, ffn: 1 }, [1, 2]); // creates Adam's moments
    const before = tf.memory().numTensors;
    let last = first;
    for (let s = 0; s < 25; s++) last = lmTrainStep(model, optimizer, sampleWindows(tokens, 4, 16, rng), [{ heads: 2, ffn: 1 }, { heads: 1, ffn: 0.5 }], [1, 2]);
    assert.equal(tf.memory().numTensors, before, 'a step leaves no tensors behind');
    assert.equal(last.length, 2);
    assert.ok(last[1]! < first[1]! - 0.3, `loss falls on the fixture: ${first[1]} -> ${last[1]}`);
    const subnets = evaluateGpt(model, tokens, { depth: [1, 2], heads: [1, 2] }, { maxTokens: 400 });
    assert.deepEqual(subnets.map((s) => s.id), ['d1-h1', 'd1-h2', 'd2-h1', 'd2-h2']);
    for (const s of subnets) assert.ok(Math.abs(s.metrics.perplexity! - Math.exp(s.metrics.loss!)) < 1e-6 * s.metrics.perplexity!);
    assert.equal(tf.memory().numTensors, before, 'evaluation leaves no tensors behind');
  } finally {
    model.dispose();
    optimizer.dispose();
  }
});

void test('trainGpt: a short run writes a checkpoint the packager accepts, tokenizer included', async () => {
  const half = Math.floor(fixture.length * 0.8);
  const { checkpoint, subnets, losses } = await trainGpt({
    steps: 6, batch: 4, context: 16, dModel: 16, layers: 2, heads: 2, ffnHidden: 32, vocabSize: 300,
    depths: [1, 2], headLevels: [1, 2], ffnLevels: [0.5, 1], warmupSteps: 2, backend: 'wasm', lateFrom: 0.5, largestWeight: 2,
    data: { train: [fixture.slice(0, half)], test: [fixture.slice(half)], name: 'fixture', source: 'test/fixtures/lm-tiny.txt' },
  });
  assert.equal(losses.length, 6);
  const objective = String(checkpoint.spec.training.objective);
  assert.match(objective, /the full model's loss counted 2 times; from step 3 on sandwich with 3 a step$/, 'the checkpoint names the weight and the late phase');
  assert.deepEqual(subnets.map((s) => s.id), latticeOf({ depth: [1, 2], heads: [1, 2], ffn: [0.5, 1] }).map(subnetId));
  assert.ok(subnets.every((s) => Number.isFinite(s.metrics.perplexity)));
  const ckpt = decodeCheckpoint(encodeCheckpoint(checkpoint));
  validateTokenizer(ckpt.spec.tokenizer);
  const again = await evalGptCheckpoint(ckpt, { data: { test: [fixture.slice(half)] } });
  assert.ok(maxAbsDiff(again.map((s) => s.metrics.loss!), subnets.map((s) => s.metrics.loss!)) < 1e-5, 'eval of the saved checkpoint reproduces the training metrics');
  const { manifest } = packCheckpoint(ckpt);
  assert.deepEqual(manifest.subnets.map((s) => s.params).sort((a, b) => a - b), subnets.map((s) => s.params).sort((a, b) => a - b), 'params agree between training and the manifest');
  assert.deepEqual(manifest.subnets.map((s) => s.macs).sort((a, b) => a - b), subnets.map((s) => s.macs).sort((a, b) => a - b));
  assert.throws(() => resolveGptConfig({ depths: [1, 3], layers: 2 }), (e: unknown) => e instanceof SortedNetError && e.field === 'depths');
  assert.throws(() => resolveGptConfig({ headlevels: [1] } as never), (e: unknown) => e instanceof SortedNetError && /did you mean "headLevels"/.test(e.message));
});
