/**
 * Read an ONNX file for the CLI and API, turning fs errors into SortedNetError.
 *
 * @example
 * const bytes = await readOnnx('model.onnx');
 */
import { promises as fs } from 'node:fs';
import { SortedNetError } from '../runtime/errors.js';

export async function readOnnx(path: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    throw new SortedNetError({ code: 'IO', file: path, field: '(file)', found: `cannot read: ${(err as Error).message}`, fix: 'check the path' , cause: err });
  }
}
