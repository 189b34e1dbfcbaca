import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { packCheckpoint } from '../../packager/pack.js';
import { SortedNetError } from '../../runtime/errors.js';
import type { ProgressEvent } from '../../runtime/index.js';
import { loadInWorker } from '../../runtime/node-worker.js';
import { maxAbsDiff, mlpCheckpoint, randomArray, referenceForward, rng } from '../packager/fixture.js';
import { CKPT, CONFIG, PACKED } from './backends.js';

const x = randomArray(2 * CONFIG.inputSize, rng(17));
const feeds = { input: { data: x, dims: [2, CONFIG.inputSize] } };
const CAL = { format: 'sortednet-calibration', version: 2, latency: { overheadMs: 0.01, msPerMac: 1e-6 }, observed: {} } as const;

void describe('loadInWorker (Node worker thread)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sortednet-worker-'));
  const path = join(dir, 'model.onnx');
  writeFileSync(path, PACKED.bytes);
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('runs every subnet, concurrently, with the same outputs and errors as in-thread', async () => {
    const events: ProgressEvent[] = [];
    const model = await loadInWorker(path, { calibration: CAL, mode: 'lean', onProgress: (e) => events.push(e) });
    try {
      assert.equal(model.info.mode, 'lean');
      assert.equal(model.info.subnets.length, PACKED.manifest.subnets.length);
      assert.ok(events.some((e) => e.status === 'ready'), 'progress events are forwarded');
      const outs = await Promise.all(PACKED.manifest.subnets.map((s) => model.run(feeds, { subnet: s.id })));
      PACKED.manifest.subnets.forEach((s, i) => {
        const d = maxAbsDiff(outs[i]!.logits!.data as Float32Array, referenceForward(CKPT, s.levels, x, 2));
        assert.ok(d < 1e-4, `${s.id}: maxdiff ${d}`);
        assert.deepEqual(outs[i]!.logits!.dims, [2, CONFIG.classes]);
      });
      assert.equal((await model.select({ minAccuracy: 0 })).id, 'd3-w100');
      assert.equal((await model.explain({ minAccuracy: 0 })).chosen, 'd3-w100');
      assert.ok(Object.keys((await model.calibration()).observed).length >= PACKED.manifest.subnets.length - 1, 'calls taught the estimates');
      await assert.rejects(model.run(feeds, { subnet: 'd9-w1' }), (err: unknown) => err instanceof SortedNetError && err.code === 'UNKNOWN_SUBNET' && /use one of d1-w25/.test(err.fix));
    } finally {
      await model.release();
    }
    await assert.rejects(loadInWorker(join(dir, 'missing.onnx')), (err: unknown) => err instanceof SortedNetError && err.code === 'IO');
  });

  void it('keeps the calling thread free while ORT works', async () => {
    const big = { inputSize: 784, hidden: 256, classes: 10 };
    const file = join(dir, 'big.onnx');
    writeFileSync(file, packCheckpoint(mlpCheckpoint(big, { depth: [1, 2, 3] }, 2)).bytes);
    const model = await loadInWorker(file, { calibration: CAL });
    const batch = 256;
    const input = { input: { data: randomArray(batch * big.inputSize, rng(1)), dims: [batch, big.inputSize] } };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      for (let i = 0; i < 10; i++) await model.run(input);
    } finally {
      clearInterval(timer);
      await model.release();
    }
    assert.ok(ticks > 0, 'timers fired while the worker ran the model');
  });
});
