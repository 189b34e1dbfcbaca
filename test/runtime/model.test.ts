import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { extractSubnet } from '../../packager/extract.js';
import { SortedNetError } from '../../runtime/errors.js';
import { SortedModel } from '../../runtime/index.js';
import { maxAbsDiff, randomArray, referenceForward, rng } from '../packager/fixture.js';
import { BACKENDS, CKPT, CONFIG, LATENCY, PACKED } from './backends.js';

const { bytes, manifest } = PACKED;
const BATCH = 3;
const x = randomArray(BATCH * CONFIG.inputSize, rng(21));
const feeds = { input: { data: x, dims: [BATCH, CONFIG.inputSize] } };

function isError(code: SortedNetError['code'], field?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof SortedNetError, String(err));
    assert.equal(err.code, code, err.message);
    if (field) assert.match(err.field, field);
    assert.ok(err.fix.length > 0);
    return true;
  };
}

for (const { name, ort } of BACKENDS) {
  void describe(`SortedModel on ${name}`, () => {
    let model: SortedModel<typeof ort>;
    before(async () => {
      model = await SortedModel.load(bytes, { ort, latencyModel: LATENCY });
    });
    after(() => model.release());

    void it('every subnet: runtime output = JS reference = plain ORT on the extracted file (max abs diff < 1e-4)', async () => {
      for (const s of manifest.subnets) {
        const ours = (await model.run(feeds, { subnet: s.id })).logits!.data as Float32Array;
        const ref = referenceForward(CKPT, s.levels, x, BATCH);
        const session = await ort.InferenceSession.create(extractSubnet(bytes, s.id).bytes);
        const plain = (await session.run({ input: new ort.Tensor('float32', x, [BATCH, CONFIG.inputSize]) })).logits!.data as Float32Array;
        await session.release();
        const d1 = maxAbsDiff(ours, ref);
        const d2 = maxAbsDiff(ours, plain);
        assert.ok(d1 < 1e-4 && d2 < 1e-4, `${s.id}: maxdiff vs reference ${d1}, vs extracted ${d2}`);
      }
    });

    void it('lists subnets smallest first with estimates, and defaults to the most accurate', () => {
      assert.deepEqual(model.subnets.map((s) => s.id), manifest.subnets.map((s) => s.id));
      assert.equal(model.subnet.id, 'd3-w100');
      const s = model.subnets[0]!;
      assert.equal(s.estimate.latencyMs, LATENCY.overheadMs + LATENCY.msPerMac * s.macs);
      assert.equal(s.estimate.memoryMB, (s.bytes + s.activations) / 2 ** 20);
    });

    void it('selects the most accurate subnet within a budget', () => {
      const within = (ms: number) => model.subnets.filter((s) => s.estimate.latencyMs <= ms);
      const pick = model.select({ latencyMs: 2 });
      assert.ok(pick.estimate.latencyMs <= 2);
      assert.equal(pick.metrics.accuracy, Math.max(...within(2).map((s) => s.metrics.accuracy!)));
      assert.equal(model.select({ minAccuracy: 0.7, memoryMB: 1 }).id, model.subnets.filter((s) => s.metrics.accuracy! >= 0.7 && s.estimate.memoryMB <= 1).sort((a, b) => b.metrics.accuracy! - a.metrics.accuracy!)[0]!.id);
      assert.ok(model.select({ latencyMs: 2 }, 64).estimate.latencyMs <= 2, 'batch-aware');
    });

    void it('switches per call by budget or id, and by use()', async () => {
      const small = manifest.subnets[0]!;
      const byBudget = await model.run(feeds, { budget: { latencyMs: LATENCY.overheadMs + LATENCY.msPerMac * small.macs * BATCH } });
      assert.ok(maxAbsDiff(byBudget.logits!.data as Float32Array, referenceForward(CKPT, small.levels, x, BATCH)) < 1e-4);
      const info = await model.use({ subnet: 'd2-w50' });
      assert.equal(info.id, 'd2-w50');
      assert.equal(model.subnet.id, 'd2-w50');
      const out = await model.run(feeds);
      assert.ok(maxAbsDiff(out.logits!.data as Float32Array, referenceForward(CKPT, { depth: 2, width: 0.5 }, x, BATCH)) < 1e-4);
      await model.use({ budget: {} });
      assert.equal(model.subnet.id, 'd3-w100');
    });

    void it('serializes concurrent runs on one session', async () => {
      const inputs = Array.from({ length: 8 }, (_, i) => randomArray(CONFIG.inputSize, rng(100 + i)));
      const outs = await Promise.all(inputs.map((data) => model.run({ input: { data, dims: [1, CONFIG.inputSize] } }, { subnet: 'd1-w75' })));
      outs.forEach((o, i) => assert.ok(maxAbsDiff(o.logits!.data as Float32Array, referenceForward(CKPT, { depth: 1, width: 0.75 }, inputs[i]!, 1)) < 1e-4));
    });

    void it('accepts ORT tensors as feeds and rejects wrong names and shapes', async () => {
      const out = await model.run({ input: new ort.Tensor('float32', x, [BATCH, CONFIG.inputSize]) }, { subnet: 'd1-w25' });
      assert.deepEqual(out.logits!.dims, [BATCH, CONFIG.classes]);
      await assert.rejects(model.run({ inputs: feeds.input }), /feeds\.inputs: unknown input "inputs"\. Fix: did you mean "input"\?/);
      await assert.rejects(model.run({ input: { data: x, dims: [BATCH, 7] } }), isError('BAD_INPUT', /^feeds\.input\.dims$/));
      await assert.rejects(model.run({ input: { data: x.subarray(1), dims: [BATCH, CONFIG.inputSize] } }), isError('BAD_INPUT', /^feeds\.input\.data$/));
    });

    void it('unknown subnet id: UNKNOWN_SUBNET listing the valid ids', async () => {
      await assert.rejects(model.run(feeds, { subnet: 'd4-w100' }), (err: unknown) => {
        isError('UNKNOWN_SUBNET', /^subnet$/)(err);
        assert.match((err as SortedNetError).fix, /^use one of d1-w25, d2-w25, .*d3-w100$/);
        return true;
      });
      await assert.rejects(SortedModel.load(bytes, { ort, subnet: 'big', calibrate: false }), isError('UNKNOWN_SUBNET'));
    });

    void it('impossible budget: IMPOSSIBLE_BUDGET naming the field, the smallest achievable value and the fix', async () => {
      const fastest = model.subnets[0]!.estimate.latencyMs;
      assert.throws(() => model.select({ latencyMs: fastest / 2 }), (err: unknown) => {
        isError('IMPOSSIBLE_BUDGET', /^budget\.latencyMs$/)(err);
        const e = err as SortedNetError;
        assert.match(e.found, new RegExp(`closest is d1-w25 at latencyMs ${Number(fastest.toPrecision(3))} ms`));
        assert.match(e.fix, /^raise latencyMs to [\d.]+$/);
        assert.ok(Number(/[\d.]+$/.exec(e.fix)![0]) >= fastest, 'the suggested value admits the subnet');
        return true;
      });
      assert.throws(() => model.select({ minAccuracy: 0.99 }), (err: unknown) => isError('IMPOSSIBLE_BUDGET', /^budget\.minAccuracy$/)(err) && /lower minAccuracy to 0\.9$/.test((err as SortedNetError).fix));
      assert.throws(() => model.select({ memoryMB: model.subnets[0]!.estimate.memoryMB, minAccuracy: 0.85 }), (err: unknown) => isError('IMPOSSIBLE_BUDGET', /^budget$/)(err) && /raise memoryMB to .* or lower minAccuracy to/.test((err as SortedNetError).fix));
      await assert.rejects(model.run(feeds, { budget: { latencyMs: 0 } }), isError('IMPOSSIBLE_BUDGET'));
      await assert.rejects(SortedModel.load(bytes, { ort, latencyModel: LATENCY, budget: { memoryMB: 0.0001 } }), isError('IMPOSSIBLE_BUDGET', /^budget\.memoryMB$/));
    });

    void it('rejects unknown option keys with a did-you-mean, and a missing ort', async () => {
      await assert.rejects(SortedModel.load(bytes, { ort, budget: { latencyMS: 3 } as never }), /load\(\)\.budget\.latencyMS: unknown key "latencyMS"\. Fix: did you mean "latencyMs"\?/);
      await assert.rejects(SortedModel.load(bytes, { ort, calibrated: false } as never), /did you mean "calibrate"\?/);
      await assert.rejects(SortedModel.load(bytes, {} as never), isError('BAD_OPTION', /^load\(\)\.ort$/));
      await assert.rejects(model.run(feeds, { subnet: 'd1-w25', budget: {} }), isError('BAD_OPTION'));
      await assert.rejects(model.run(feeds, { subnett: 'd1-w25' } as never), /did you mean "subnet"\?/);
    });

    void it('truncated ONNX: BAD_ONNX naming the file and the field', async () => {
      const smallest = manifest.subnets[0]!;
      await assert.rejects(SortedModel.load(bytes.subarray(0, 200), { ort, name: 'cut.onnx' }), (err: unknown) => isError('BAD_ONNX', /^metadata_props\["sortednet"\]$/)(err) && (err as SortedNetError).file === 'cut.onnx');
      // A prefix is enough for the subnets inside it; larger ones fail by name.
      const prefix = bytes.subarray(0, smallest.prefixBytes);
      const partial = await SortedModel.load(prefix, { ort, subnet: smallest.id, name: 'cut.onnx', calibrate: false });
      const out = await partial.run(feeds);
      assert.ok(maxAbsDiff(out.logits!.data as Float32Array, referenceForward(CKPT, smallest.levels, x, BATCH)) < 1e-4);
      await assert.rejects(partial.run(feeds, { subnet: 'd3-w100' }), (err: unknown) => isError('BAD_ONNX', /^sortednet\.tensors\[\d+\] \(.+\)$/)(err) && /truncated/.test((err as SortedNetError).found));
      await partial.release();
      await assert.rejects(SortedModel.load(bytes.subarray(0, bytes.length - 1), { ort, latencyModel: LATENCY }), isError('BAD_ONNX', /^sortednet\.tensors\[/));
    });

    void it('corrupt bytes: BAD_ONNX (or BAD_MANIFEST for a readable but invalid manifest)', async () => {
      const flip = (at: number, value: number): Uint8Array => {
        const b = bytes.slice();
        b[at] = value;
        return b;
      };
      await assert.rejects(SortedModel.load(flip(0, 0xff), { ort }), isError('BAD_ONNX', /^ModelProto$/));
      const json = new TextDecoder().decode(bytes.subarray(0, manifest.tensors[0]!.offset));
      const brace = json.indexOf('{"format"');
      await assert.rejects(SortedModel.load(flip(brace, 0x5b), { ort }), isError('BAD_ONNX', /^metadata_props\["sortednet"\]$/));
      const dtype = json.indexOf('"float32"', json.indexOf('"tensors"'));
      await assert.rejects(SortedModel.load(flip(dtype + 7, 0x34), { ort }), isError('BAD_MANIFEST', /^sortednet\.tensors\[0\]\.dtype$/));
      const t = manifest.tensors.at(-1)!;
      await assert.rejects(SortedModel.load(flip(t.offset - 1, 0x00), { ort, latencyModel: LATENCY }), (err: unknown) => isError('BAD_ONNX', /^sortednet\.tensors\[/)(err) && /does not point at raw_data/.test((err as SortedNetError).found));
    });

    void it('calibrates latency on the smallest subnet at load', async () => {
      const m = await SortedModel.load(bytes, { ort, subnet: 'd1-w25' });
      assert.ok(m.latencyModel.msPerMac > 0 && m.latencyModel.overheadMs >= 0, JSON.stringify(m.latencyModel));
      assert.deepEqual(m.cachedSubnets, ['d1-w25']);
      await m.release();
      await assert.rejects(m.run(feeds), isError('BAD_OPTION', /^run\(\)$/));
    });

    void it('keeps sessions within cacheMB, least recently used out first', async () => {
      const s = manifest.subnets;
      const m = await SortedModel.load(bytes, { ort, latencyModel: LATENCY, subnet: s[0]!.id, cacheMB: (s[0]!.bytes + s[1]!.bytes) / 2 ** 20 });
      await m.run(feeds, { subnet: s[1]!.id });
      assert.deepEqual(m.cachedSubnets, [s[0]!.id, s[1]!.id]);
      await m.run(feeds, { subnet: s[2]!.id });
      assert.deepEqual(m.cachedSubnets, [s[2]!.id]);
      await m.release();
    });
  });
}
