/**
 * Exporters per architecture: each validates a checkpoint and cuts its tensors into the blocks
 * the runtime's graph builders read.
 *
 * @example
 * const plan = exporterFor(ckpt.spec.arch, 'model.safetensors').plan(ckpt, 'model.safetensors');
 * plan.tensors.size; // number of stored blocks
 */
import { SortedNetError } from '../../runtime/errors.js';
import type { Arch, Dim, DType, Levels } from '../../runtime/manifest-types.js';
import type { Checkpoint } from '../../training/checkpoint.js';
import { cnnExporter } from './cnn.js';
import { gptExporter } from './gpt.js';
import { mlpExporter } from './mlp.js';

type Dims = Partial<Record<Dim, number[]>>;

export interface ExportTensor {
  dims: number[];
  dtype: DType;
  data: Float32Array;
}

export interface ExportPlan {
  config: Record<string, number>;
  dims: Partial<Record<Dim, number[]>>;
  /** Every stored block, by name, in canonical order. */
  tensors: Map<string, ExportTensor>;
  /** Checkpoint tensors the network does not use (not packed). */
  ignored: string[];
}

export interface Exporter {
  arch: Arch;
  plan(ckpt: Checkpoint, file: string): ExportPlan;
  /** Multiply-accumulates per example of a subnet (the manifest's `macs`). */
  macs(config: Record<string, number>, dims: Dims, levels: Levels): number;
  /** Rough peak activation bytes per example (the manifest's `activations`). */
  activationBytes(config: Record<string, number>, dims: Dims, levels: Levels): number;
}

export const EXPORTERS: Partial<Record<Arch, Exporter>> = { mlp: mlpExporter, cnn: cnnExporter, gpt: gptExporter };

export function exporterFor(arch: Arch, file: string): Exporter {
  const e = EXPORTERS[arch];
  if (e) return e;
  throw new SortedNetError({
    code: 'BAD_CHECKPOINT',
    file,
    field: 'sortednet.arch',
    found: `"${arch}", which this packager cannot export yet`,
    fix: `pack one of ${Object.keys(EXPORTERS).join(', ')}, or upgrade sortednet`,
  });
}
