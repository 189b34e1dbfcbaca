import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { SortedNetError } from '../../runtime/errors.js';
import { SortedModel } from '../../runtime/node.js';
import { serial } from '../../runtime/source.js';
import { maxAbsDiff, mlpCheckpoint, randomArray, referenceForward, rng } from '../packager/fixture.js';
import { packCheckpoint } from '../../packager/pack.js';
import { BACKENDS, CKPT, CONFIG, DIMS, LATENCY, PACKED } from './backends.js';

// Big enough that the smallest subnet's prefix is a small part of the file.
const BIG_CONFIG = { inputSize: 256, hidden: 128, classes: 10 };
const BIG_CKPT = mlpCheckpoint(BIG_CONFIG, DIMS, 8);
const BIG = packCheckpoint(BIG_CKPT);
const { bytes } = PACKED;
const x = randomArray(2 * CONFIG.inputSize, rng(4));
const feeds = { input: { data: x, dims: [2, CONFIG.inputSize] } };

/** Serves PACKED.bytes at /model.onnx, with or without Range support, counting bytes sent. */
function serve(range: boolean, bytes: Uint8Array = PACKED.bytes): Promise<{ server: Server; url: string; sent: () => number; requests: string[] }> {
  let sent = 0;
  const requests: string[] = [];
  const server = createServer((req, res) => {
    if (req.url !== '/model.onnx') {
      res.writeHead(404).end();
      return;
    }
    const m = range ? /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '') : null;
    requests.push(req.headers.range ?? 'all');
    if (!m) {
      sent += bytes.length;
      res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      return;
    }
    const from = Number(m[1]);
    const to = Math.min(Number(m[2]), bytes.length - 1);
    if (from >= bytes.length) {
      res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
      return;
    }
    sent += to + 1 - from;
    res.writeHead(206, { 'content-range': `bytes ${from}-${to}/${bytes.length}` }).end(bytes.subarray(from, to + 1));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    resolve({ server, url: `http://127.0.0.1:${port}/model.onnx`, sent: () => sent, requests });
  }));
}

for (const { name, ort } of BACKENDS) {
  void describe(`model sources on ${name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'sortednet-src-'));
    const path = join(dir, 'model.onnx');
    writeFileSync(path, bytes);
    after(() => rmSync(dir, { recursive: true, force: true }));

    void it('URL with Range: fetches only the prefix the chosen subnet needs, more on demand', async () => {
      const srv = await serve(true, BIG.bytes);
      try {
        const smallest = BIG.manifest.subnets[0]!;
        const model = await SortedModel.load(srv.url, { ort, subnet: smallest.id, latencyModel: LATENCY });
        assert.ok(srv.sent() <= Math.max(smallest.prefixBytes, 64 * 1024), `sent ${srv.sent()} bytes`);
        assert.ok(srv.sent() < BIG.bytes.length / 3, `sent ${srv.sent()} of ${BIG.bytes.length} bytes`);
        const xb = randomArray(2 * BIG_CONFIG.inputSize, rng(5));
        const out = await model.run({ input: { data: xb, dims: [2, BIG_CONFIG.inputSize] } }, { subnet: 'd3-w100' });
        assert.ok(maxAbsDiff(out.logits!.data as Float32Array, referenceForward(BIG_CKPT, { depth: 3, width: 1 }, xb, 2)) < 1e-4);
        assert.equal(srv.sent(), BIG.bytes.length, 'each byte fetched once');
        await model.release();
      } finally {
        srv.server.close();
      }
    });

    void it('URL without Range support: one full download', async () => {
      const srv = await serve(false);
      try {
        const model = await SortedModel.load(new URL(srv.url), { ort, latencyModel: LATENCY });
        const out = await model.run(feeds, { subnet: 'd2-w75' });
        assert.ok(maxAbsDiff(out.logits!.data as Float32Array, referenceForward(CKPT, { depth: 2, width: 0.75 }, x, 2)) < 1e-4);
        assert.equal(srv.requests.length, 1);
        await model.release();
        await assert.rejects(SortedModel.load(srv.url.replace('model', 'missing'), { ort }), (err: unknown) => err instanceof SortedNetError && err.code === 'IO' && /HTTP 404/.test(err.found));
      } finally {
        srv.server.close();
      }
    });

    void it('file path and file: URL (Node entry)', async () => {
      for (const src of [path, pathToFileURL(path), pathToFileURL(path).href]) {
        const model = await SortedModel.load(src, { ort, subnet: 'd1-w50', latencyModel: LATENCY });
        const out = await model.run(feeds);
        assert.ok(maxAbsDiff(out.logits!.data as Float32Array, referenceForward(CKPT, { depth: 1, width: 0.5 }, x, 2)) < 1e-4);
        await model.release();
      }
      await assert.rejects(SortedModel.load(join(dir, 'missing.onnx'), { ort }), (err: unknown) => err instanceof SortedNetError && err.code === 'IO' && err.file.endsWith('missing.onnx'));
    });

    void it('ArrayBuffer source', async () => {
      const model = await SortedModel.load(bytes.slice().buffer, { ort, subnet: 'd1-w25', latencyModel: LATENCY });
      assert.equal(model.file, '<memory>');
      await model.release();
    });
  });
}

void describe('URL source errors', () => {
  let srv: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    srv = await serve(true);
  });
  after(() => srv.server.close());
  void it('names the URL when the fetch itself fails', async () => {
    const failing = (() => Promise.reject(new Error('offline'))) as unknown as typeof fetch;
    await assert.rejects(SortedModel.load(srv.url, { ort: BACKENDS[0].ort, fetch: failing }), (err: unknown) => err instanceof SortedNetError && err.file === srv.url && /offline/.test(err.found));
  });
});

void describe('read queue (serial)', () => {
  void it('runs steps one after another and keeps no step\'s value, so released bytes can be collected', async () => {
    const queue = serial();
    const order: string[] = [];
    const slow = queue(async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('first');
    });
    const failing = queue(() => Promise.reject(new Error('read failed')));
    const fast = queue(async () => void order.push('third'));
    await Promise.all([slow, assert.rejects(failing, /read failed/), fast]);
    assert.deepEqual(order, ['first', 'third']); // the third waited for the first, through the failure

    // A source's last read resolves to its whole buffer; the queue must not be what keeps it alive.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let buffer: Uint8Array | undefined = new Uint8Array(1 << 20);
    const ref = new WeakRef(buffer);
    await queue(async () => buffer);
    buffer = undefined;
    await new Promise((r) => setTimeout(r, 0)); // WeakRef targets stay alive until the job ends
    gc();
    assert.equal(ref.deref(), undefined, 'the queue still holds the last read\'s bytes');
  });
});
