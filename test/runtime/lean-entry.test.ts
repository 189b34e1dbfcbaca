import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
// The browser entry's core, without Node's entries (which import runtime/lean.ts themselves).
import { SortedModel, SortedNetError } from '../../runtime/core.js';
import { maxAbsDiff, referenceForward } from '../packager/fixture.js';
import { CKPT, CONFIG, LATENCY, PACKED } from './backends.js';

void describe("lean mode's MLP switch graph (runtime/lean.ts) is opt-in for the browser core", () => {
  void it("mode 'lean' without it is BAD_OPTION naming the import; auto runs fast; after the import lean runs every subnet", async () => {
    await assert.rejects(SortedModel.load(PACKED.bytes, { ort, latencyModel: LATENCY, mode: 'lean' }), (err: unknown) => {
      assert.ok(err instanceof SortedNetError);
      assert.equal(err.code, 'BAD_OPTION');
      assert.equal(err.field, 'load().mode');
      assert.match(err.fix, /import 'sortednet\/runtime\/lean'/);
      return true;
    });
    const full = PACKED.manifest.tensors.reduce((a, t) => a + t.length, 0);
    const warnings: string[] = [];
    const auto = await SortedModel.load(PACKED.bytes, { ort, latencyModel: LATENCY, cacheMB: (1.2 * full) / 2 ** 20, onProgress: (e) => e.status === 'warning' && warnings.push(`${e.code}: ${e.message}`) });
    assert.equal(auto.mode, 'fast', 'auto cannot pick lean without the switch graph');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^NO_LEAN: .*import 'sortednet\/runtime\/lean'/);
    await auto.release();
    await import('../../runtime/lean.js');
    const lean = await SortedModel.load(PACKED.bytes, { ort, latencyModel: LATENCY, mode: 'lean' });
    assert.equal(lean.mode, 'lean');
    const x = new Float32Array(2 * CONFIG.inputSize).map((_, i) => Math.sin(i));
    for (const s of PACKED.manifest.subnets) {
      const out = await lean.run({ input: { data: x, dims: [2, CONFIG.inputSize] } }, { subnet: s.id });
      assert.ok(maxAbsDiff(out.logits!.data as Float32Array, referenceForward(CKPT, s.levels, x, 2)) < 1e-4, s.id);
    }
    await lean.release();
  });
});
