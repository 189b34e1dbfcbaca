import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { packCheckpoint } from '../../packager/pack.js';
import { SortedNetError } from '../../runtime/errors.js';
import { SortedModel, type Calibration, type ProgressEvent } from '../../runtime/index.js';
import { startServer, type RangeServer } from '../helpers/range-server.js';
import { maxAbsDiff, mlpCheckpoint, randomArray, referenceForward, rng } from '../packager/fixture.js';
import { BACKENDS, DIMS } from './backends.js';

// Big enough that the smallest subnet's prefix is larger than the manifest probe (64 KiB).
const CONFIG = { inputSize: 784, hidden: 256, classes: 10 };
const CKPT = mlpCheckpoint(CONFIG, DIMS, 11);
const { bytes, manifest } = packCheckpoint(CKPT);
const CAL: Calibration = { format: 'sortednet-calibration', version: 2, latency: { overheadMs: 0.01, msPerMac: 1e-6 }, observed: {} };
const x = randomArray(2 * CONFIG.inputSize, rng(3));
const feeds = { input: { data: x, dims: [2, CONFIG.inputSize] } };
const [smallest, full] = [manifest.subnets[0]!, manifest.subnets.at(-1)!];
const sent = (srv: RangeServer): number => srv.log.reduce((a, r) => a + r.bytes, 0);
const check = (out: Record<string, { data: unknown }>, levels: object): void => {
  const d = maxAbsDiff(out.logits!.data as Float32Array, referenceForward(CKPT, levels, x, 2));
  assert.ok(d < 1e-4, `maxdiff ${d}`);
};

/** An in-memory stand-in for the browser's Cache API (`caches`), enough for the loader. */
function fakeCaches(): { store: Map<string, Uint8Array>; caches: unknown } {
  const store = new Map<string, Uint8Array>();
  const cache = {
    match: (key: string) => Promise.resolve(store.has(key) ? new Response(store.get(key)!.slice()) : undefined),
    put: async (key: string, res: Response) => void store.set(key, new Uint8Array(await res.arrayBuffer())),
  };
  return { store, caches: { open: () => Promise.resolve(cache) } };
}

for (const { name, ort } of BACKENDS) {
  void describe(`progressive loading from a URL on ${name}`, () => {
    const servers: RangeServer[] = [];
    const serve = async (body: Uint8Array, ranges = true): Promise<string> => {
      const srv = await startServer({ '/m.onnx': body }, { ranges });
      servers.push(srv);
      return `${srv.url}/m.onnx`;
    };
    after(() => Promise.all(servers.map((s) => s.close())));

    void it('serves the smallest subnet from its prefix, reports progress, then upgrades as bytes arrive', async () => {
      const url = await serve(bytes);
      const events: ProgressEvent[] = [];
      const model = await SortedModel.load(url, { ort, calibration: CAL, onProgress: (e) => events.push(e) });
      const srv = servers.at(-1)!;
      const before = sent(srv);
      assert.ok(before <= smallest.prefixBytes, `${before} bytes before the first call, smallest prefix ${smallest.prefixBytes}`);
      assert.equal(model.subnet.id, smallest.id, 'the most accurate subnet is still downloading');
      check(await model.run(feeds), smallest.levels);
      check(await model.run(feeds, { subnet: full.id }), full.levels); // waits for its bytes
      await model.complete;
      assert.equal(model.subnet.id, full.id, 'upgraded to the choice of the budget');
      assert.equal(sent(srv), bytes.length, 'each byte fetched once');
      assert.ok(srv.log.every((r) => r.range !== undefined), 'all Range requests');

      const statuses = events.map((e) => e.status);
      assert.equal(statuses[0], 'initiate');
      assert.deepEqual(statuses.filter((s) => s === 'ready' || s === 'done'), ['ready', 'done']);
      const ready = events.filter((e) => e.status === 'subnet-ready').map((e) => (e as { subnet: string }).subnet);
      assert.deepEqual([...ready].sort(), manifest.subnets.map((s) => s.id).sort(), 'each subnet announced once');
      assert.equal(ready[0], smallest.id);
      const progress = events.filter((e) => e.status === 'progress') as Extract<ProgressEvent, { loaded: number }>[];
      assert.ok(progress.every((e, i) => e.total === bytes.length && e.file === 'm.onnx' && e.name === url && (i === 0 || e.loaded >= progress[i - 1]!.loaded)));
      assert.equal(progress.at(-1)!.progress, 100);
      await model.release();
    });

    for (const [graph, cacheMB] of [['switch', undefined], ['compact', manifest.tensors.reduce((a, t) => a + t.length, 0) / 2 ** 20 + 0.25]] as const) {
      void it(`lean mode (${graph} graph): a temporary session serves first, then one ${graph} session serves every subnet`, async () => {
        const model = await SortedModel.load(await serve(bytes), { ort, calibration: CAL, mode: 'lean', ...(cacheMB === undefined ? {} : { cacheMB }) });
        assert.equal(model.leanGraph, graph);
        assert.deepEqual(model.cachedSubnets, [smallest.id]);
        await model.complete;
        assert.deepEqual(model.cachedSubnets, [], 'temporary static session released');
        for (const s of [smallest, manifest.subnets[5]!, full]) check(await model.run(feeds, { subnet: s.id }), s.levels);
        await model.release();
      });
    }

    void it('verifies each segment: a corrupt byte fails the subnets that need it with BAD_ONNX', async () => {
      const bad = bytes.slice();
      const t = manifest.tensors.at(-1)!;
      bad[t.offset + 5] ^= 0xff;
      const model = await SortedModel.load(await serve(bad), { ort, calibration: CAL });
      check(await model.run(feeds), smallest.levels);
      const isHashError = (err: unknown): boolean => err instanceof SortedNetError && err.code === 'BAD_ONNX' && /^sortednet\.segments\[\d+\]$/.test(err.field) && /hash to/.test(err.found);
      await assert.rejects(model.complete, isHashError);
      await assert.rejects(model.run(feeds, { subnet: full.id }), isHashError);
      await model.release();
    });

    void it('a server without Range support: one plain download, every subnet ready at once', async () => {
      const model = await SortedModel.load(await serve(bytes, false), { ort, calibration: CAL });
      assert.equal(servers.at(-1)!.log.length, 1);
      assert.equal(model.subnet.id, full.id);
      check(await model.run(feeds), full.levels);
      await model.release();
    });

    void it('cache: stores verified segments in the Cache API and reuses them on the next load', async () => {
      const fake = fakeCaches();
      (globalThis as { caches?: unknown }).caches = fake.caches;
      try {
        const url = await serve(bytes);
        const first = await SortedModel.load(url, { ort, calibration: CAL, cache: true });
        await first.complete;
        await first.release();
        assert.equal(fake.store.size, manifest.segments!.length);
        const srv = servers.at(-1)!;
        const before = sent(srv);
        const second = await SortedModel.load(url, { ort, calibration: CAL, cache: 'sortednet-v1' });
        await second.complete;
        check(await second.run(feeds, { subnet: full.id }), full.levels);
        assert.ok(sent(srv) - before <= 64 * 1024, `second load fetched ${sent(srv) - before} bytes: the manifest probe only`);
        await second.release();
      } finally {
        delete (globalThis as { caches?: unknown }).caches;
      }
    });
  });
}
