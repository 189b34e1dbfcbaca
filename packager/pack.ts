/**
 * Pack a sorted checkpoint into one ONNX file: the full network, each weight stored once, the
 * manifest in metadata_props, tensors in nested-prefix order (the smallest subnet's first).
 *
 * @example
 * const { bytes, manifest } = packCheckpoint(await readCheckpoint('model.safetensors'));
 * manifest.subnets[0].prefixBytes; // bytes a client must fetch to run the smallest subnet
 */
import '../runtime/archs.js';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SortedNetError } from '../runtime/errors.js';
import { GRAPHS } from '../runtime/graphs/index.js';
import { DTYPE_BYTES } from '../runtime/graph.js';
import { MANIFEST_FORMAT, MANIFEST_KEY, MANIFEST_VERSION, type Levels, type Manifest, type SubnetEntry, type SubnetMetrics, type TensorEntry } from '../runtime/manifest-types.js';
import { scanManifest } from '../runtime/manifest.js';
import { PRODUCER_NAME, PRODUCER_VERSION } from '../runtime/onnx.js';
import { validateManifest } from '../runtime/validate.js';
import { readCheckpoint, writeFileAtomic, type Checkpoint } from '../training/checkpoint.js';
import { latticeOf, subnetId, type SortedSpec } from '../training/spec.js';
import { exporterFor } from './exporters/index.js';
import { assembleModel, graphStart, layoutGraph, modelHead, type TensorMeta } from './onnx/write.js';

/** ONNX default-domain opset of the written graphs. */
export const OPSET = 17;

export interface PackResult {
  bytes: Uint8Array;
  manifest: Manifest;
  /** Checkpoint tensors the network does not use, so they were not packed. */
  ignored: string[];
}

interface PlannedSubnet {
  id: string;
  levels: Levels;
  metrics: SubnetMetrics;
}

/** The checkpoint's subnets (or the whole lattice when it lists none), checked against its dims. */
function plannedSubnets(spec: SortedSpec, file: string): PlannedSubnet[] {
  if (spec.subnets.length === 0) return latticeOf(spec.dims).map((levels) => ({ id: subnetId(levels), levels, metrics: {} }));
  const seen = new Set<string>();
  return spec.subnets.map((s, i) => {
    const fail = (field: string, found: string, fix: string): never => {
      throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field: `sortednet.subnets[${i}].${field}`, found, fix });
    };
    if (seen.has(s.id)) fail('id', `"${s.id}" twice`, 'give each subnet a unique id');
    seen.add(s.id);
    for (const [dim, level] of Object.entries(s.levels)) {
      const allowed = spec.dims[dim as keyof SortedSpec['dims']];
      if (!allowed?.includes(level)) fail(`levels.${dim}`, JSON.stringify(level), `use a level from sortednet.dims.${dim}: ${JSON.stringify(allowed ?? [])}`);
    }
    const metrics: SubnetMetrics = {};
    for (const k of ['accuracy', 'loss', 'perplexity'] as const) {
      const v = s.metrics?.[k];
      if (typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
    }
    return { id: s.id, levels: { ...s.levels }, metrics };
  });
}

/** Pack in memory. `file` names the checkpoint in errors. */
export function packCheckpoint(ckpt: Checkpoint, options: { file?: string } = {}): PackResult {
  const file = options.file ?? '<memory>';
  const arch = ckpt.spec.arch;
  const exporter = exporterFor(arch, file);
  const plan = exporter.plan(ckpt, file);
  const graphs = GRAPHS[arch]!;
  const subnetList = plannedSubnets(ckpt.spec, file).map((s, index) => {
    const graph = graphs.graph(plan.config, plan.dims, s.levels);
    const bytes = graph.initializers.reduce((a, n) => a + plan.tensors.get(n)!.data.byteLength, 0);
    return { ...s, index, graph, bytes, macs: exporter.macs(plan.config, plan.dims, s.levels) };
  });
  // A linear order compatible with nesting: fewer bytes first (a <= b implies bytes(a) <= bytes(b)).
  subnetList.sort((a, b) => a.bytes - b.bytes || a.macs - b.macs || a.index - b.index);
  const placed = new Set<string>();
  const place = (names: string[]): void => names.forEach((n) => placed.add(n));
  for (const s of subnetList) place(s.graph.initializers);
  const full = graphs.graph(plan.config, plan.dims, {});
  place(full.initializers);

  const metas: TensorMeta[] = [...placed].map((name) => {
    const t = plan.tensors.get(name)!;
    return { name, dims: t.dims, dtype: t.dtype, length: t.dims.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype] };
  });
  const layout = layoutGraph(full, metas);
  const data = ckpt.spec.data;
  const placeholder = '0'.repeat(64);
  const build = (base: number): Manifest => {
    const tensors: TensorEntry[] = metas.map((m, i) => ({ name: m.name, dims: m.dims, dtype: m.dtype, offset: base + layout.rawOffsets[i]!, length: m.length }));
    const end = new Map(tensors.map((t) => [t.name, t.offset + t.length]));
    const subnets: SubnetEntry[] = subnetList.map((s) => ({
      id: s.id,
      levels: s.levels,
      params: s.bytes / DTYPE_BYTES.float32,
      bytes: s.bytes,
      macs: s.macs,
      activations: exporter.activationBytes(plan.config, plan.dims, s.levels),
      prefixBytes: Math.max(...s.graph.initializers.map((n) => end.get(n)!)),
      metrics: s.metrics,
    }));
    const fileEnd = base + layout.length;
    const ends = [...new Set([...subnets.map((s) => s.prefixBytes), fileEnd])].sort((a, b) => a - b);
    return {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      arch,
      config: plan.config,
      dims: plan.dims,
      opset: OPSET,
      ...graphs.io(plan.config),
      tensors,
      subnets,
      segments: ends.map((end) => ({ end, sha256: placeholder })),
      ...(data ? { data: { name: data.name, source: data.source, train: data.train, test: data.test } } : {}),
      producer: `${PRODUCER_NAME} ${PRODUCER_VERSION}`,
    };
  };
  const tokenizer: [string, string][] = ckpt.spec.tokenizer ? [['sortednet.tokenizer', JSON.stringify(ckpt.spec.tokenizer)]] : [];
  // The manifest's length shifts every offset it records: iterate to a fixed point, pad with spaces.
  const encoder = new TextEncoder();
  let room = 0;
  for (;;) {
    const head = modelHead({ opset: OPSET, metadata: [[MANIFEST_KEY, ' '.repeat(room)], ...tokenizer] });
    const manifest = build(graphStart(head, layout));
    const json = encoder.encode(JSON.stringify(manifest));
    if (json.length <= room) {
      const pad = (m: Manifest): string => JSON.stringify(m) + ' '.repeat(room - json.length);
      const bytes = assembleModel(modelHead({ opset: OPSET, metadata: [[MANIFEST_KEY, pad(manifest)], ...tokenizer] }), layout, (i) => {
        const d = plan.tensors.get(metas[i]!.name)!.data;
        return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      });
      // Hash the segments now that their bytes are final; the hashes keep the manifest's length.
      let start = (scanManifest(bytes, file) as { end: number }).end;
      for (const seg of manifest.segments!) {
        seg.sha256 = createHash('sha256').update(bytes.subarray(start, seg.end)).digest('hex');
        start = seg.end;
      }
      bytes.set(modelHead({ opset: OPSET, metadata: [[MANIFEST_KEY, pad(manifest)], ...tokenizer] }), 0);
      validateManifest(JSON.parse(pad(manifest)), file);
      return { bytes, manifest, ignored: plan.ignored };
    }
    room = json.length;
  }
}

function isPackedOnnx(bytes: Uint8Array): boolean {
  try {
    return 'manifest' in scanManifest(bytes, '');
  } catch {
    return false;
  }
}

/** Read a checkpoint and write the packed file atomically. */
export async function packFile(input: string, output: string): Promise<PackResult> {
  let ckpt: Checkpoint;
  try {
    ckpt = await readCheckpoint(input);
  } catch (err) {
    if (err instanceof SortedNetError && err.code === 'BAD_CHECKPOINT' && isPackedOnnx(await readFile(input))) {
      throw new SortedNetError({ code: 'BAD_CHECKPOINT', file: input, field: '(file)', found: 'a packed ONNX file, not a checkpoint', fix: `inspect it with \`sortednet-pack inspect ${input}\`, or pack the .safetensors checkpoint` });
    }
    throw err;
  }
  const result = packCheckpoint(ckpt, { file: input });
  try {
    await writeFileAtomic(output, result.bytes);
  } catch (err) {
    throw new SortedNetError({ code: 'IO', file: output, field: '(file)', found: `cannot write: ${(err as Error).message}`, fix: 'check that the folder exists and is writable', cause: err });
  }
  return result;
}
