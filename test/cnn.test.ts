// The sorted CNN end to end: every subnet of a briefly trained tiny CNN gives the same logits
// (max abs diff < 1e-4) in tfjs (calibrated statistics), in the runtime on the packed file, and
// in plain onnxruntime-node on the extracted file. Then a 160-subnet lattice (4 depths x 40
// widths) packs, selects and runs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { extractSubnet } from '../packager/extract.js';
import { EXPORTERS } from '../packager/exporters/index.js';
import { packCheckpoint } from '../packager/pack.js';
import { SortedModel } from '../runtime/index.js';
import { initBackend } from '../training/backend.js';
import { forwardCnnSubnet, type CnnConfig } from '../training/models/cnn.js';
import { trainedCnn, type CnnFixture } from './cnn-fixture.js';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const LATENCY = { overheadMs: 0.1, msPerMac: 1e-6 };

async function checkEverySubnet(fx: CnnFixture, ids: string[] | undefined): Promise<{ worst: number; manifestBytes: number; fileBytes: number }> {
  const { bytes, manifest } = packCheckpoint(fx.checkpoint);
  const { imageSize: s, inChannels: c } = fx.model.config;
  const dims = [fx.n, c, s, s];
  const model = await SortedModel.load(bytes, { ort, latencyModel: LATENCY });
  let worst = 0;
  try {
    for (const sub of manifest.subnets) {
      if (ids && !ids.includes(sub.id)) continue;
      const ref = forwardCnnSubnet(fx.model, sub.levels, fx.images, fx.n);
      const ours = (await model.run({ input: { data: fx.images, dims } }, { subnet: sub.id })).logits!.data as Float32Array;
      const session = await ort.InferenceSession.create(extractSubnet(bytes, sub.id).bytes);
      const plain = (await session.run({ input: new ort.Tensor('float32', fx.images, dims) })).logits!.data as Float32Array;
      await session.release();
      const d1 = maxAbsDiff(ours, ref);
      const d2 = maxAbsDiff(plain, ref);
      worst = Math.max(worst, d1, d2);
      assert.ok(d1 < 1e-4 && d2 < 1e-4, `${sub.id}: runtime vs tfjs maxdiff ${d1}, extracted vs tfjs ${d2}`);
    }
  } finally {
    await model.release();
  }
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest)).length;
  return { worst, manifestBytes, fileBytes: bytes.length };
}

before(async () => {
  await initBackend('wasm');
});

// The packager and runtime learn the CNN through two registries (docs/cnn.md, "Hooks").
const hooked = EXPORTERS.cnn !== undefined;
const skip = hooked ? false : 'packager/exporters/index.ts does not register the cnn exporter yet';

void describe('tiny sorted CNN (2 stages x 2 blocks, widths 0.25..1)', { skip }, () => {
  const config: CnnConfig = { imageSize: 8, inChannels: 1, classes: 3, channels: 4, stages: 2, blocks: 2, stemStride: 1 };
  const dims = { depth: [1, 2], width: [0.25, 0.5, 0.75, 1] };
  let fx: CnnFixture;
  before(() => {
    fx = trainedCnn(config, dims);
  });
  after(() => fx.model.dispose());

  void it('every subnet: tfjs = runtime on the packed file = onnxruntime-node on the extracted file', async () => {
    const r = await checkEverySubnet(fx, undefined);
    console.log(`  8 subnets, maxdiff ${r.worst.toExponential(2)}`);
  });

  void it('the packed file is the full network to stock onnxruntime', async () => {
    const { bytes } = packCheckpoint(fx.checkpoint);
    const { imageSize: s, inChannels: c } = fx.model.config;
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 }); // quiet: other subnets' statistics are unused here
    const full = (await session.run({ input: new ort.Tensor('float32', fx.images, [fx.n, c, s, s]) })).logits!.data as Float32Array;
    await session.release();
    const d = maxAbsDiff(full, forwardCnnSubnet(fx.model, {}, fx.images, fx.n));
    assert.ok(d < 1e-4, `maxdiff ${d}`);
  });

  void it('stores every weight once, smallest subnet first', () => {
    const { manifest } = packCheckpoint(fx.checkpoint);
    const names = manifest.tensors.map((t) => t.name);
    assert.equal(new Set(names).size, names.length);
    const prefixes = manifest.subnets.map((s) => s.prefixBytes);
    assert.equal(manifest.subnets[0]!.id, 'd1-w25');
    assert.ok(prefixes[0]! < prefixes.at(-1)!);
    // Conv weights are stored OIHW: the stem's first level block is [1 out, 1 in, 3, 3].
    assert.deepEqual(manifest.tensors.find((t) => t.name === 'stem.conv.weight[:1,:,:,:]')?.dims, [1, 1, 3, 3]);
  });
});

void describe('160 subnets (4 depths x 40 widths) in one file', { skip }, () => {
  const config: CnnConfig = { imageSize: 8, inChannels: 1, classes: 10, channels: 40, stages: 2, blocks: 4, stemStride: 2 };
  const widths = Array.from({ length: 40 }, (_, i) => Math.round((i + 1) * 0.025 * 1000) / 1000);
  const dims = { depth: [1, 2, 3, 4], width: widths };
  let fx: CnnFixture;
  before(() => {
    fx = trainedCnn(config, dims, { steps: 1 });
  });
  after(() => fx.model.dispose());

  void it('packs, selects by budget and runs; sampled subnets agree across tfjs, runtime and extracted file', async () => {
    const { manifest, bytes } = packCheckpoint(fx.checkpoint);
    assert.equal(manifest.subnets.length, 160);
    const model = await SortedModel.load(bytes, { ort, latencyModel: LATENCY });
    try {
      const picks = [1, 5, 20].map((ms) => model.select({ latencyMs: ms }));
      for (let i = 1; i < picks.length; i++) assert.ok(picks[i]!.macs >= picks[i - 1]!.macs, 'a larger budget never picks a smaller subnet');
      assert.ok(picks.every((p, i) => p.estimate.latencyMs <= [1, 5, 20][i]!));
    } finally {
      await model.release();
    }
    const ids = ['d1-w3', 'd4-w3', 'd2-w50', 'd3-w78', 'd4-w100', 'd1-w100'];
    const r = await checkEverySubnet(fx, ids);
    const tensorCount = manifest.tensors.length;
    console.log(`  160 subnets: file ${r.fileBytes} B, manifest ${r.manifestBytes} B, ${tensorCount} stored tensors, maxdiff ${r.worst.toExponential(2)} on ${ids.length} subnets`);
  });
});
