import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { extractSubnet } from '../../packager/extract.js';
import { packCheckpoint } from '../../packager/pack.js';
import { SortedNetError } from '../../runtime/errors.js';
import { readManifest, scanManifest } from '../../runtime/manifest.js';
import { subnetGraph } from '../../runtime/graphs/index.js';
import type { Checkpoint } from '../../training/checkpoint.js';
import { maxAbsDiff, mlpCheckpoint, parseBlockName, randomArray, referenceForward, rng } from './fixture.js';

const BIG = { inputSize: 784, hidden: 512, classes: 10 };
const BIG_DIMS = { depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] };

function f32(bytes: Uint8Array, offset: number, length: number): Float32Array {
  return new Float32Array(bytes.slice(offset, offset + length).buffer);
}

/** Every element of every checkpoint tensor is stored exactly once, at the offset the manifest says. */
function assertStoredOnce(ckpt: Checkpoint, bytes: Uint8Array): void {
  const { manifest } = readManifest(bytes, 'test.onnx');
  const covered = new Map(Object.entries(ckpt.tensors).map(([n, t]) => [n, new Uint8Array(t.data.length)]));
  for (const t of manifest.tensors) {
    const source = Object.keys(ckpt.tensors).find((n) => t.name === n || t.name.startsWith(`${n}[`))!;
    const src = ckpt.tensors[source]!;
    const { ranges } = parseBlockName(t.name, src.dims);
    const data = f32(bytes, t.offset, t.length);
    const cols = src.dims[1] ?? 1;
    let k = 0;
    const [[r0, r1], [c0, c1] = [0, 1]] = ranges as [[number, number], [number, number]?];
    for (let r = r0; r < r1; r++) {
      for (let c = c0; c < c1; c++) {
        const idx = r * cols + c;
        assert.equal(data[k++], src.data[idx], `${t.name} element (${r}, ${c})`);
        covered.get(source)![idx]! += 1;
      }
    }
    assert.deepEqual(t.dims, ranges.map(([a, b]) => b - a).slice(0, src.dims.length));
  }
  for (const [name, cov] of covered) assert.ok(cov.every((c) => c === 1), `${name}: every element stored exactly once`);
}

void describe('packCheckpoint', () => {
  const ckpt = mlpCheckpoint({ inputSize: 12, hidden: 10, classes: 4 }, { depth: [1, 2, 3], width: [0.3, 0.6, 1] }, 7);
  const { bytes, manifest } = packCheckpoint(ckpt, { file: 'test.safetensors' });

  void it('stores each weight once, as L-shaped blocks, at the recorded offsets', () => {
    assertStoredOnce(ckpt, bytes);
    const params = Object.values(ckpt.tensors).reduce((a, t) => a + t.data.length, 0);
    assert.equal(manifest.tensors.reduce((a, t) => a + t.length, 0), params * 4);
  });

  void it('puts the manifest before the graph and the smallest subnet first (nested-prefix order)', () => {
    const loc = scanManifest(bytes.subarray(0, manifest.tensors[0]!.offset), 'test.onnx');
    assert.ok('manifest' in loc, 'manifest readable from the bytes before the first tensor');
    const used = manifest.subnets.map((s) => new Set(subnetGraph(manifest, s.levels).initializers));
    const first = manifest.tensors.slice(0, used[0]!.size).map((t) => t.name);
    assert.deepEqual(new Set(first), used[0], 'the smallest subnet\'s tensors come first');
    manifest.subnets.forEach((s, i) => {
      const ends = manifest.tensors.filter((t) => used[i]!.has(t.name)).map((t) => t.offset + t.length);
      assert.equal(s.prefixBytes, Math.max(...ends));
      for (const t of manifest.tensors.filter((t) => t.offset + t.length <= s.prefixBytes)) {
        assert.ok(used.slice(0, i + 1).some((u) => u.has(t.name)), `${t.name} in ${s.id}'s prefix belongs to it or a smaller subnet`);
      }
      assert.equal(s.bytes, [...used[i]!].reduce((a, n) => a + manifest.tensors.find((t) => t.name === n)!.length, 0));
      if (i > 0) assert.ok(s.bytes >= manifest.subnets[i - 1]!.bytes, 'smallest first');
    });
    assert.equal(manifest.subnets.at(-1)!.prefixBytes, bytes.length, 'the largest subnet needs the whole file');
  });

  void it('records params, MACs, activations and metrics per subnet', () => {
    const d2 = manifest.subnets.find((s) => s.id === 'd2-w60')!;
    const u = 6;
    assert.equal(d2.params, 12 * u + u + u * u + u + u * 4 + 4);
    assert.equal(d2.macs, 12 * u + u * u + u * 4);
    assert.equal(d2.activations, 4 * (12 + 2 * u + 4));
    assert.deepEqual(d2.metrics, ckpt.spec.subnets.find((s) => s.id === 'd2-w60')!.metrics);
    assert.deepEqual(manifest.data, ckpt.spec.data);
  });

  void it('is a valid ONNX model of the full network that stock onnxruntime runs', async () => {
    const session = await ort.InferenceSession.create(bytes);
    const x = randomArray(3 * 12, rng(2));
    const out = await session.run({ input: new ort.Tensor('float32', x, [3, 12]) });
    assert.ok(maxAbsDiff(out.logits!.data as Float32Array, referenceForward(ckpt, { depth: 3, width: 1 }, x, 3)) < 1e-4);
    await session.release();
  });

  void it('packs only the listed subnets, or the whole lattice when none are listed', () => {
    const some = { ...ckpt, spec: { ...ckpt.spec, subnets: ckpt.spec.subnets.filter((s) => s.id === 'd1-w30' || s.id === 'd3-w60') } };
    const a = packCheckpoint(some).manifest;
    assert.deepEqual(a.subnets.map((s) => s.id), ['d1-w30', 'd3-w60']);
    assert.equal(a.tensors.length, manifest.tensors.length, 'the full network is still stored');
    const none = packCheckpoint({ ...ckpt, spec: { ...ckpt.spec, subnets: [] } }).manifest;
    assert.equal(none.subnets.length, 9);
    assert.deepEqual(none.subnets[0]!.metrics, {});
  });

  void it('packs an MLP without a width dim, and notes unused checkpoint tensors', () => {
    const c = mlpCheckpoint({ inputSize: 5, hidden: 4, classes: 2 }, { depth: [1, 2] }, 3);
    c.tensors['optimizer.step'] = { dims: [1], data: new Float32Array(1) };
    const { bytes: b, manifest: m, ignored } = packCheckpoint(c);
    assert.deepEqual(m.subnets.map((s) => s.id), ['d1', 'd2']);
    assert.deepEqual(ignored, ['optimizer.step']);
    assert.deepEqual(m.tensors.map((t) => t.name), ['layers.0.weight', 'layers.0.bias', 'head.weight', 'head.bias', 'layers.1.weight', 'layers.1.bias']);
    delete c.tensors['optimizer.step'];
    assertStoredOnce(c, b);
  });

  void it('meets the size targets on 784-512x3-10 with 12 subnets', () => {
    const big = mlpCheckpoint(BIG, BIG_DIMS, 11);
    const packed = packCheckpoint(big);
    assert.equal(packed.manifest.subnets.length, 12);
    const smallest = packed.manifest.subnets[0]!;
    const full = packed.manifest.subnets.at(-1)!;
    const fullRatio = packed.bytes.length / extractSubnet(packed.bytes, full.id).bytes.length;
    const prefixRatio = smallest.prefixBytes / extractSubnet(packed.bytes, smallest.id).bytes.length;
    console.log(`# packed ${packed.bytes.length} B = ${fullRatio.toFixed(4)}x extracted ${full.id}; ${smallest.id} prefix ${smallest.prefixBytes} B = ${prefixRatio.toFixed(4)}x extracted ${smallest.id}`);
    assert.ok(fullRatio <= 1.01, `packed/extracted full = ${fullRatio}`);
    assert.ok(prefixRatio <= 1.1, `smallest prefix/extracted = ${prefixRatio}`);
  });
});

void describe('packCheckpoint errors', () => {
  const base = (): Checkpoint => mlpCheckpoint({ inputSize: 6, hidden: 8, classes: 3 }, { depth: [1, 2], width: [0.5, 1] });
  const expectError = (ckpt: Checkpoint, field: RegExp, code = 'BAD_CHECKPOINT'): void => {
    assert.throws(() => packCheckpoint(ckpt, { file: 'bad.safetensors' }), (err: unknown) => {
      assert.ok(err instanceof SortedNetError);
      assert.equal(err.code, code);
      assert.equal(err.file, 'bad.safetensors');
      assert.match(err.field, field);
      assert.ok(err.fix.length > 0);
      return true;
    });
  };

  void it('rejects an architecture with no exporter', () => {
    const c = base();
    c.spec.arch = 'rnn' as never;
    expectError(c, /^sortednet\.arch$/);
  });

  void it('rejects a missing tensor or a wrong shape', () => {
    const c = base();
    delete c.tensors['layers.1.weight'];
    expectError(c, /^layers\.1\.weight$/);
    const d = base();
    d.tensors['head.weight'] = { dims: [3, 8], data: d.tensors['head.weight']!.data };
    expectError(d, /^head\.weight\.shape$/);
  });

  void it('rejects a config typo with a did-you-mean', () => {
    const c = base();
    c.spec.config = { inputSize: 6, hiden: 8, classes: 3 };
    assert.throws(() => packCheckpoint(c), /sortednet\.config\.hiden: unknown key "hiden"\. Fix: did you mean "hidden"\?/);
  });

  void it('rejects width levels that keep the same number of units', () => {
    const c = mlpCheckpoint({ inputSize: 6, hidden: 4, classes: 3 }, { depth: [1], width: [0.25, 0.3, 1] });
    expectError(c, /^sortednet\.dims\.width$/);
  });

  void it('rejects a subnet whose level is not in dims', () => {
    const c = base();
    c.spec.subnets[1]!.levels = { depth: 2, width: 0.75 };
    expectError(c, /^sortednet\.subnets\[1\]\.levels\.width$/);
  });
});
