import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { varintSize, WireError, WireReader, WireWriter } from '../../runtime/wire.js';

void describe('wire', () => {
  void it('round-trips varints up to 2^53 and matches protobufjs', () => {
    for (const n of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const bytes = new WireWriter().varint(n).finish();
      assert.equal(bytes.length, varintSize(n));
      assert.equal(new WireReader(bytes).varint(), n);
      assert.deepEqual(bytes, Uint8Array.from(protobuf.Writer.create().uint64(n).finish()));
    }
  });

  void it('writes negative int64 as 10-byte two\'s complement like protobufjs', () => {
    for (const n of [-1, -2, -127, -128, -129, -300, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 40) - 7, Number.MIN_SAFE_INTEGER]) {
      assert.deepEqual(new WireWriter().varint(n).finish(), Uint8Array.from(protobuf.Writer.create().int64(n).finish()), String(n));
    }
    assert.deepEqual(new WireWriter().floatField(2, 0.5).finish(), Uint8Array.from(protobuf.Writer.create().uint32(21).float(0.5).finish()));
  });

  void it('reads tags, strings and nested messages, and skips every wire type', () => {
    const inner = new WireWriter().stringField(1, 'key').stringField(2, 'valüe');
    const bytes = new WireWriter().varintField(1, 8).raw(Uint8Array.of(0x11, 1, 2, 3, 4, 5, 6, 7, 8)).raw(Uint8Array.of(0x1d, 1, 2, 3, 4)).message(14, inner).finish();
    const r = new WireReader(bytes);
    assert.deepEqual(r.tag(), { field: 1, wire: 0 });
    assert.equal(r.varint(), 8);
    r.skip(r.tag().wire);
    r.skip(r.tag().wire);
    assert.deepEqual(r.tag(), { field: 14, wire: 2 });
    const sub = new WireReader(r.bytesField());
    sub.tag();
    assert.equal(sub.string(), 'key');
    sub.tag();
    assert.equal(sub.string(), 'valüe');
    assert.ok(r.eof());
  });

  void it('reports truncation separately from corruption', () => {
    const bytes = new WireWriter().bytesField(3, new Uint8Array(10)).finish();
    assert.throws(() => new WireReader(bytes.subarray(0, 5)).skip(new WireReader(bytes).tag().wire), (e: unknown) => e instanceof WireError);
    const r = new WireReader(bytes.subarray(0, 5));
    r.tag();
    assert.throws(() => r.bytesField(), (e: unknown) => e instanceof WireError && e.truncated);
    assert.throws(() => new WireReader(Uint8Array.of(0x0f)).tag(), (e: unknown) => e instanceof WireError && !e.truncated);
  });
});
