/**
 * Shared pieces of the runtime benchmark: the two packed models, plain-ORT baselines on the
 * `extract`ed standalone subnets, and small statistics helpers.
 *
 * @example
 * const m = await prepareModel('fmnist'); // { name, bytes, manifest, standalone: Map(id -> bytes), fullBytes }
 * percentile([3, 1, 2], 0.5); // 2
 */
import { existsSync } from 'node:fs';
import { extractSubnet } from '../packager/extract.js';
import { packCheckpoint } from '../packager/pack.js';
import type { Manifest } from '../runtime/manifest-types.js';
import { mlpCheckpoint } from '../test/packager/fixture.js';
import { readCheckpoint } from '../training/checkpoint.js';

/** Single-threaded ORT, for the baseline and the runtime alike. */
export const SESSION_OPTIONS = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' as const };
/**
 * Lean mode is measured within a memory budget of this many times the full weights (the
 * memory_ratio_lean target): `cacheMB` lets the runtime keep static sessions for the smallest
 * subnets in what the budget leaves beside the switch session.
 */
export const LEAN_BUDGET = 1.15;
export const leanCacheMB = (weightBytes: number): number => (LEAN_BUDGET * weightBytes) / 2 ** 20;
/** The trained Fashion-MNIST MLP: what `npm run train:fmnist` writes; random weights when it is missing. */
export const TRAINED = process.env.SORTEDNET_TRAINED ?? 'model.safetensors';
const DIMS = { depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] };

export interface BenchModel {
  name: 'fmnist' | 'large';
  /** How the weights were made. */
  weights: string;
  bytes: Uint8Array;
  manifest: Manifest;
  /** Extracted standalone ONNX file per subnet id. */
  standalone: Map<string, Uint8Array>;
  /** Bytes of the full network's weights (every stored tensor once). */
  weightBytes: number;
}

export async function prepareModel(name: BenchModel['name']): Promise<BenchModel> {
  let ckpt;
  let weights = 'random (seeded)';
  if (name === 'fmnist' && existsSync(TRAINED)) {
    try {
      ckpt = await readCheckpoint(TRAINED);
      weights = `trained checkpoint ${TRAINED}`;
    } catch {
      ckpt = undefined;
    }
  }
  ckpt ??= mlpCheckpoint({ inputSize: 784, hidden: name === 'large' ? 2048 : 512, classes: 10 }, DIMS, 1);
  const { bytes, manifest } = packCheckpoint(ckpt);
  const standalone = new Map(manifest.subnets.map((s) => [s.id, extractSubnet(bytes, s.id).bytes]));
  return { name, weights, bytes, manifest, standalone, weightBytes: manifest.tensors.reduce((a, t) => a + t.length, 0) };
}

export function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export const median = (xs: number[]): number => percentile(xs, 0.5);

/** Fisher-Yates with a seeded generator. */
export function shuffle<T>(xs: T[], rand: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));
