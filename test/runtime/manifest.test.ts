import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SortedNetError } from '../../runtime/errors.js';
import { readManifest, scanManifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/validate.js';
import { PACKED } from './backends.js';

const { bytes, manifest } = PACKED;
const clone = (): any => JSON.parse(JSON.stringify(manifest));

function invalid(m: unknown, field: string, found?: RegExp, fix?: RegExp): void {
  assert.throws(() => validateManifest(m, 'model.onnx'), (err: unknown) => {
    assert.ok(err instanceof SortedNetError);
    assert.equal(err.code, 'BAD_MANIFEST');
    assert.equal(err.file, 'model.onnx');
    assert.equal(err.field, field);
    if (found) assert.match(err.found, found);
    if (fix) assert.match(err.fix, fix);
    return true;
  });
}

void describe('readManifest', () => {
  void it('reads the manifest from a file prefix (it precedes the graph)', () => {
    const { manifest: m, end } = readManifest(bytes.subarray(0, manifest.tensors[0]!.offset), 'model.onnx');
    assert.deepEqual(m, manifest);
    assert.ok(end < manifest.tensors[0]!.offset);
    assert.deepEqual(readManifest(bytes.subarray(0, end)).manifest, manifest, 'the exact end is enough');
    const short = scanManifest(bytes.subarray(0, end - 1), 'model.onnx');
    assert.ok('needBytes' in short && short.needBytes > end - 1);
  });

  void it('rejects a prefix that ends before the manifest, and non-sortednet ONNX', () => {
    assert.throws(() => readManifest(bytes.subarray(0, 50), 'model.onnx'), /model\.onnx: metadata_props\["sortednet"\]: the bytes end \(at 50\) before the manifest/);
    const plain = Uint8Array.of(0x08, 0x08, 0x3a, 0x00); // ir_version 8, empty graph
    assert.throws(() => readManifest(plain, 'plain.onnx'), (err: unknown) => err instanceof SortedNetError && err.code === 'BAD_ONNX' && /not written by sortednet-pack/.test(err.found));
  });
});

void describe('validateManifest', () => {
  void it('accepts what the packager writes', () => {
    assert.deepEqual(validateManifest(clone(), 'model.onnx'), manifest);
  });

  void it('rejects unknown keys with the path and a did-you-mean', () => {
    const m = clone();
    m.subnets[2].levels.widht = 0.5;
    delete m.subnets[2].levels.width;
    invalid(m, 'sortednet.subnets[2].levels.widht', /unknown key "widht"/, /did you mean "width"\?/);
    const n = clone();
    n.subnets[0].metrics.acuracy = 1;
    invalid(n, 'sortednet.subnets[0].metrics.acuracy', undefined, /did you mean "accuracy"\?/);
    const top = clone();
    top.tensor = top.tensors;
    invalid(top, 'sortednet.tensor', undefined, /did you mean "tensors"\?/);
  });

  void it('names the path of wrong values', () => {
    const m = clone();
    m.subnets[2].levels.width = 0.3;
    invalid(m, 'sortednet.subnets[2].levels.width', /0\.3/, /dims\.width: \[0\.25,0\.5,0\.75,1\]/);
    const v = clone();
    v.version = 2;
    invalid(v, 'sortednet.version', /2/, /upgrade sortednet/);
    const d = clone();
    d.dims.width = [0.5, 0.25];
    invalid(d, 'sortednet.dims.width', /do not ascend/);
    const t = clone();
    t.tensors[3].length += 4;
    invalid(t, 'sortednet.tensors[3].length');
    const o = clone();
    o.tensors[4].offset = o.tensors[3].offset;
    invalid(o, 'sortednet.tensors[4].offset', /overlaps/);
    const s = clone();
    [s.subnets[0], s.subnets[1]] = [s.subnets[1], s.subnets[0]];
    invalid(s, 'sortednet.subnets[1].bytes', /smallest first/);
    const a = clone();
    a.arch = 'rnn';
    invalid(a, 'sortednet.arch', /"rnn"/, /use one of mlp, cnn, gpt/);
    const c = clone();
    delete c.config.hidden;
    invalid(c, 'sortednet.config.hidden', /missing/);
    const p = clone();
    p.subnets[1].prefixBytes = 1e12;
    invalid(p, 'sortednet.subnets[1].prefixBytes', /past the last tensor/);
    const h = clone();
    h.segments[2].sha256 = 'ABC';
    invalid(h, 'sortednet.segments[2].sha256', /not 64 lowercase hex digits/);
    const e = clone();
    e.segments[3].end = e.segments[2].end;
    invalid(e, 'sortednet.segments[3].end', /not an integer >= /);
    const q = clone();
    q.subnets[0].prefixBytes -= 1;
    invalid(q, 'sortednet.subnets[0].prefixBytes', /not the end of a segment/);
  });
});
