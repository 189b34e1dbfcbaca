/**
 * The `sortednet` manifest stored in a packed ONNX file's `metadata_props` (docs/manifest.md),
 * and its reader. The manifest precedes the graph, so a file prefix is enough to read it.
 *
 * @example
 * const { manifest } = readManifest(firstBytes, 'model.onnx');
 * manifest.subnets.map((s) => s.id); // ['d1-w25', 'd2-w25', ...] smallest first
 */
import { raise } from './errors.js';
import { WireError, WireReader } from './wire.js';
import { validateManifest } from './validate.js';
import { MANIFEST_KEY, type Manifest, type SubnetEntry } from './manifest-types.js';

export * from './manifest-types.js';

export interface ManifestLocation {
  manifest: Manifest;
  /** Bytes from the start of the file up to the end of the manifest entry. */
  end: number;
}

const MODEL_FIELDS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25]);
const notPacked = 'pack it with `sortednet-pack model.safetensors -o model.onnx`';

/**
 * Walk the ModelProto's top-level fields until `metadata_props["sortednet"]`.
 * Returns `{ needBytes }` when `bytes` is a prefix that ends too early.
 */
export function scanManifest(bytes: Uint8Array, file: string): ManifestLocation | { needBytes: number } {
  const r = new WireReader(bytes);
  const fail = (field: string, found: string, fix: string): never => raise('BAD_ONNX', file, field, found, fix);
  try {
    while (!r.eof()) {
      const at = r.pos;
      const { field, wire } = r.tag();
      if (!MODEL_FIELDS.has(field)) fail('ModelProto', `unexpected field ${field} at byte ${at}, so this is not an ONNX model`, notPacked);
      if (field !== 14 || wire !== 2) {
        r.skip(wire);
        continue;
      }
      const entry = new WireReader(r.bytesField());
      let key = '';
      let value: Uint8Array | undefined;
      while (!entry.eof()) {
        const t = entry.tag();
        if (t.field === 1 && t.wire === 2) key = entry.string();
        else if (t.field === 2 && t.wire === 2) value = entry.bytesField();
        else entry.skip(t.wire);
      }
      if (key !== MANIFEST_KEY) continue;
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(value ?? new Uint8Array()));
      } catch {
        fail(`metadata_props["${MANIFEST_KEY}"]`, 'JSON that does not parse (corrupt bytes?)', 'download or re-pack the file');
      }
      return { manifest: validateManifest(json, file), end: r.pos };
    }
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    // Inside metadata_props the exact end is known; elsewhere, ask for twice as much.
    if (err.truncated) return { needBytes: err.need !== undefined ? Math.max(err.need, bytes.length + 1) : bytes.length * 2 + 1 };
    fail('ModelProto', `${err.message} at byte ${err.at} (corrupt bytes?)`, 'download or re-pack the file');
  }
  return fail(`metadata_props["${MANIFEST_KEY}"]`, 'missing, so this ONNX file was not written by sortednet-pack', notPacked);
}

/** Read and validate the manifest from the whole file or a prefix that contains it. */
export function readManifest(bytes: Uint8Array, file = '<memory>'): ManifestLocation {
  const found = scanManifest(bytes, file);
  if ('manifest' in found) return found;
  return raise('BAD_ONNX', file, `metadata_props["${MANIFEST_KEY}"]`, `the bytes end (at ${bytes.length}) before the manifest, so the file is truncated`, 'download the file again, or pass a longer prefix');
}

/** A manifest entry by id, or UNKNOWN_SUBNET listing the valid ids. */
export function findSubnet(manifest: Manifest, id: string, file: string): SubnetEntry {
  const s = manifest.subnets.find((x) => x.id === id);
  if (s) return s;
  return raise('UNKNOWN_SUBNET', file, 'subnet', `"${id}" is not in the manifest`, `use one of ${manifest.subnets.map((x) => x.id).join(', ')}`);
}
