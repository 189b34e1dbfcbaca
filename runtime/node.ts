/**
 * Node entry: the core plus file paths (and file: URLs) as sources, read by prefix.
 *
 * @example
 * import * as ort from 'onnxruntime-node';
 * import { SortedModel } from 'sortednet/runtime';
 * const model = await SortedModel.load('model.onnx', { ort, subnet: 'd1-w25' });
 * // reads only the first prefixBytes of model.onnx for d1-w25
 */
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SortedNetError } from './errors.js';
import { registerSourceOpener, serial, type ByteSource } from './source.js';

export * from './index.js';

/** Reads a file lazily: only as far as the largest prefix asked for. */
class FileSource implements ByteSource {
  size?: number;
  private bytes: Uint8Array = new Uint8Array(0);
  private readonly queue = serial();

  constructor(readonly name: string, private readonly path: string) {}

  prefix(end: number): Promise<Uint8Array> {
    return this.queue(() => this.grow(end));
  }

  release(): void {
    this.bytes = new Uint8Array(0);
  }

  private async grow(end: number): Promise<Uint8Array> {
    if (this.bytes.length >= Math.min(end, this.size ?? Infinity)) return this.bytes;
    try {
      const fh = await open(this.path, 'r');
      try {
        this.size = (await fh.stat()).size;
        const want = Math.min(end, this.size);
        const out = new Uint8Array(want);
        out.set(this.bytes, 0);
        const { bytesRead } = await fh.read(out, this.bytes.length, want - this.bytes.length, this.bytes.length);
        this.bytes = out.subarray(0, this.bytes.length + bytesRead);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw new SortedNetError({ code: 'IO', file: this.name, field: '(file)', found: `cannot read: ${(err as Error).message}`, fix: 'check the path', cause: err });
    }
    return this.bytes;
  }
}

const isUrl = (s: string): boolean => /^(https?|blob|data):/i.test(s);

registerSourceOpener((source) => {
  if (source instanceof URL) return source.protocol === 'file:' ? new FileSource(source.href, fileURLToPath(source)) : undefined;
  if (source.startsWith('file:')) return new FileSource(source, fileURLToPath(source));
  return isUrl(source) ? undefined : new FileSource(source, source);
});
