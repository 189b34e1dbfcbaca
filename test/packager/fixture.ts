/**
 * Test fixtures: random-weight sorted MLP checkpoints (seeded) and a plain-JS reference forward
 * pass that follows the spec, independent of the packager's block layout.
 *
 * @example
 * const ckpt = mlpCheckpoint({ inputSize: 6, hidden: 8, classes: 3 }, { depth: [1, 2], width: [0.5, 1] });
 * referenceForward(ckpt, { depth: 1, width: 0.5 }, input, 2); // Float32Array of 2 * 3 logits
 */
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeCheckpoint, type Checkpoint } from '../../training/checkpoint.js';
import { latticeOf, subnetId, widthUnits, type Levels, type MlpConfig, type SortedSpec } from '../../training/spec.js';

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, rand: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

export function mlpCheckpoint(config: MlpConfig, dims: { depth: number[]; width?: number[] }, seed = 1): Checkpoint {
  const rand = rng(seed);
  const tensors: Checkpoint['tensors'] = {};
  const depth = Math.max(...dims.depth);
  for (let i = 0; i < depth; i++) {
    const fanIn = i === 0 ? config.inputSize : config.hidden;
    tensors[`layers.${i}.weight`] = { dims: [fanIn, config.hidden], data: randomArray(fanIn * config.hidden, rand, Math.sqrt(3 / fanIn)) };
    tensors[`layers.${i}.bias`] = { dims: [config.hidden], data: randomArray(config.hidden, rand, 0.1) };
  }
  tensors['head.weight'] = { dims: [config.hidden, config.classes], data: randomArray(config.hidden * config.classes, rand, Math.sqrt(3 / config.hidden)) };
  tensors['head.bias'] = { dims: [config.classes], data: randomArray(config.classes, rand, 0.1) };
  const lattice = latticeOf(dims);
  const subnets = lattice.map((levels, k) => {
    const u = widthUnits(levels.width ?? 1, config.hidden);
    const d = levels.depth!;
    const params = config.inputSize * u + u + (d - 1) * (u * u + u) + u * config.classes + config.classes;
    const macs = config.inputSize * u + (d - 1) * u * u + u * config.classes;
    return { id: subnetId(levels), levels, params, macs, metrics: { accuracy: 0.5 + (0.4 * (k + 1)) / lattice.length, loss: 2 - k / lattice.length } };
  });
  const spec: SortedSpec = {
    format: 'sortednet-checkpoint',
    version: 1,
    arch: 'mlp',
    config: { ...config },
    dims,
    subnets,
    training: { seed },
    data: { name: 'random', source: 'test/packager/fixture.ts', train: 0, test: 0 },
  };
  return { spec, tensors };
}

export function mlpCheckpointBytes(config: MlpConfig, dims: { depth: number[]; width?: number[] }, seed = 1): Uint8Array {
  return encodeCheckpoint(mlpCheckpoint(config, dims, seed));
}

/** The spec's forward pass in plain JS (float64 accumulation), `batch` rows of input. */
export function referenceForward(ckpt: Checkpoint, levels: Levels, input: Float32Array, batch: number): Float32Array {
  const config = ckpt.spec.config as MlpConfig;
  const u = widthUnits(levels.width ?? 1, config.hidden);
  const out = new Float32Array(batch * config.classes);
  for (let n = 0; n < batch; n++) {
    let h = Array.from(input.subarray(n * config.inputSize, (n + 1) * config.inputSize));
    for (let i = 0; i < levels.depth!; i++) {
      const w = ckpt.tensors[`layers.${i}.weight`]!;
      const b = ckpt.tensors[`layers.${i}.bias`]!.data;
      const next = new Array<number>(u).fill(0);
      for (let o = 0; o < u; o++) {
        let s = b[o]!;
        for (let k = 0; k < h.length; k++) s += h[k]! * w.data[k * config.hidden + o]!;
        next[o] = Math.max(0, s);
      }
      h = next;
    }
    const hw = ckpt.tensors['head.weight']!.data;
    const hb = ckpt.tensors['head.bias']!.data;
    for (let c = 0; c < config.classes; c++) {
      let s = hb[c]!;
      for (let k = 0; k < u; k++) s += h[k]! * hw[k * config.classes + c]!;
      out[n * config.classes + c] = s;
    }
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** True when Debian's python3-onnx (or any python3 with onnx) is importable. */
export function hasPythonOnnx(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import onnx'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const PYTHON = process.env.SORTEDNET_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

/** Compare with a golden file under test/fixtures; `UPDATE_SNAPSHOTS=1` rewrites it. */
export function matchSnapshot(name: string, actual: string): void {
  const path = fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
  if (process.env.UPDATE_SNAPSHOTS === '1' || !existsSync(path)) {
    writeFileSync(path, actual);
    return;
  }
  assert.equal(actual, readFileSync(path, 'utf8'), `${name} changed; if that is intended, re-run with UPDATE_SNAPSHOTS=1`);
}

/** Parse a block name such as `layers.1.weight[:256,128:256]` into its source and region. */
export function parseBlockName(name: string, full: number[]): { source: string; ranges: [number, number][] } {
  const m = /^([^[]+)(?:\[(.*)\])?$/.exec(name)!;
  const parts = m[2] === undefined ? full.map(() => ':') : m[2].split(',');
  return {
    source: m[1]!,
    ranges: parts.map((p, i) => {
      const [a, b] = p.split(':');
      return [a ? Number(a) : 0, b ? Number(b) : full[i]!];
    }),
  };
}
