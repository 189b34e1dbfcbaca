import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
// The browser entry's core, without Node's entries (which import runtime/cache.ts themselves).
import { SortedModel, SortedNetError } from '../../runtime/core.js';
import { LATENCY, PACKED } from './backends.js';

void describe('Cache API store (runtime/cache.ts) is opt-in for the browser core', () => {
  void it('load({ cache }) without it is BAD_OPTION naming the import; after the import it loads', async () => {
    await assert.rejects(SortedModel.load(PACKED.bytes, { ort, latencyModel: LATENCY, cache: true }), (err: unknown) => {
      assert.ok(err instanceof SortedNetError);
      assert.equal(err.code, 'BAD_OPTION');
      assert.equal(err.field, 'load().cache');
      assert.match(err.fix, /import 'sortednet\/runtime\/cache'/);
      return true;
    });
    await import('../../runtime/cache.js');
    const model = await SortedModel.load(PACKED.bytes, { ort, latencyModel: LATENCY, cache: true });
    assert.equal(model.subnet.id, PACKED.manifest.subnets.at(-1)!.id);
    await model.release();
  });
});
