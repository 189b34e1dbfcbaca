/**
 * A tiny protobuf wire reader and writer: varints and length-delimited fields, nothing else.
 * The runtime ships to browsers, so it cannot afford protobufjs (12.6 kB gzipped on its own).
 *
 * @example
 * const w = new WireWriter();
 * w.varintField(1, 8).stringField(2, 'sortednet');
 * const r = new WireReader(w.finish());
 * r.tag(); // { field: 1, wire: 0 }
 * r.varint(); // 8
 */

/** Wire types used by ONNX: varint, 64-bit, length-delimited, 32-bit. */
export const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

/** Raised by the reader; `truncated` means the bytes ended inside a field (more may follow). */
export class WireError extends Error {
  constructor(message: string, readonly at: number, readonly truncated: boolean, readonly need?: number) {
    super(message);
  }
}

export class WireReader {
  pos: number;
  end: number;

  constructor(readonly bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.pos = pos;
    this.end = end;
  }

  eof(): boolean {
    return this.pos >= this.end;
  }

  /** Unsigned varint up to 2^53 (ONNX lengths and dims fit). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError('bytes end inside a varint', this.pos, true);
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new WireError('varint longer than 10 bytes', this.pos, false);
  }

  tag(): { field: number; wire: number } {
    const at = this.pos;
    const t = this.varint();
    const field = Math.floor(t / 8);
    const wire = t % 8;
    if (field === 0 || (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5)) throw new WireError(`invalid tag ${t}`, at, false);
    return { field, wire };
  }

  /** Length-delimited payload as a view (no copy). */
  bytesField(): Uint8Array {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new WireError(`field of ${len} bytes runs past the end`, start, true, start + len);
    this.pos += len;
    return this.bytes.subarray(start, start + len);
  }

  string(): string {
    return new TextDecoder().decode(this.bytesField());
  }

  skip(wire: number): void {
    if (wire === WIRE.VARINT) this.varint();
    else if (wire === WIRE.LEN) this.bytesField();
    else {
      const n = wire === WIRE.I64 ? 8 : 4;
      if (this.pos + n > this.end) throw new WireError('bytes end inside a fixed-width field', this.pos, true);
      this.pos += n;
    }
  }
}

/** Encoded size of an unsigned varint. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Bytes written straight into the output at `finish()` (no intermediate copy). */
export interface Deferred {
  length: number;
  write(dst: Uint8Array, at: number): void;
}

const utf8 = new TextEncoder();

/**
 * Collects encoded pieces without copying large payloads until `finish()`. Fields are written in
 * call order; callers write them in field-number order. Tags, varints and ASCII strings go into
 * one growing byte buffer per writer, and a nested message is kept as its writer, so encoding a
 * graph allocates about one small buffer per node instead of one array per field (a lean switch
 * session's build made about 1.6 MB of garbage that way on the Fashion-MNIST MLP, which grew V8's
 * young generation and with it the process's resident memory).
 */
export class WireWriter {
  /** In order: ends of runs of small bytes in `#buf`, payloads (not copied until `finish()`), nested messages. */
  readonly #parts: (number | Uint8Array | Deferred | WireWriter)[] = [];
  #buf = new Uint8Array(32);
  #n = 0;
  length = 0;

  /** One small byte, into this writer's buffer (the current run of small bytes). */
  #b(x: number): void {
    if (this.#n === this.#buf.length) {
      const grown = new Uint8Array(2 * this.#n);
      grown.set(this.#buf);
      this.#buf = grown;
    }
    this.#buf[this.#n++] = x;
    this.length++;
    const p = this.#parts;
    if (typeof p[p.length - 1] === 'number') p[p.length - 1] = this.#n;
    else p.push(this.#n);
  }

  raw(bytes: Uint8Array | Deferred | WireWriter): this {
    this.#parts.push(bytes);
    this.length += bytes.length;
    return this;
  }

  /**
   * Varint; negative numbers as 10-byte two's complement (int64). `& 127` reads the low bits of
   * two's complement (exact below 2^53), and floor division keeps a negative number's sign bits.
   */
  varint(n: number): this {
    for (let i = 0; n < 0 ? i < 9 : n >= 128; i++, n = Math.floor(n / 128)) this.#b((n & 127) | 128);
    this.#b(n < 0 ? 1 : n);
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  varintField(field: number, n: number): this {
    return this.tag(field, WIRE.VARINT).varint(n);
  }

  floatField(field: number, f: number): this {
    this.tag(field, WIRE.I32);
    const v = new DataView(new ArrayBuffer(4));
    v.setFloat32(0, f, true);
    for (let i = 0; i < 4; i++) this.#b(v.getUint8(i));
    return this;
  }

  bytesField(field: number, bytes: Uint8Array | Deferred): this {
    return this.tag(field, WIRE.LEN).varint(bytes.length).raw(bytes);
  }

  stringField(field: number, s: string): this {
    if (/[^\0-\x7f]/.test(s)) return this.bytesField(field, utf8.encode(s));
    this.tag(field, WIRE.LEN).varint(s.length);
    for (let i = 0; i < s.length; i++) this.#b(s.charCodeAt(i));
    return this;
  }

  /** Nested message: tag, length, then the sub-writer itself (written out at `finish()`). */
  message(field: number, sub: WireWriter): this {
    return this.tag(field, WIRE.LEN).varint(sub.length).raw(sub);
  }

  /** The message's bytes, in `into(length)` when given (a buffer to reuse), else in a new array. */
  finish(into?: (length: number) => Uint8Array): Uint8Array {
    const out = into?.(this.length) ?? new Uint8Array(this.length);
    this.#write(out, 0);
    return out;
  }

  #write(out: Uint8Array, pos: number): number {
    let from = 0;
    for (const p of this.#parts) {
      if (typeof p === 'number') while (from < p) out[pos++] = this.#buf[from++]!;
      else if (p instanceof WireWriter) pos = p.#write(out, pos);
      else {
        if (p instanceof Uint8Array) out.set(p, pos);
        else p.write(out, pos);
        pos += p.length;
      }
    }
    return pos;
  }
}
