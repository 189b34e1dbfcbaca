/**
 * Double-precision JavaScript references for the training tests: a sorted-MLP forward pass
 * and its loss, written from the definition (no tfjs), so tfjs results can be checked
 * against them and against finite differences.
 */
import type { NamedTensor } from '../../training/checkpoint.js';
import { Rng } from '../../training/rng.js';

export function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-scale, scale);
  return a;
}

/** act(x @ w[:rows, :cols] + b[:cols]) in float64; w is [inFull, outFull] row-major. */
export function refDense(x: ArrayLike<number>, n: number, w: ArrayLike<number>, outFull: number, b: ArrayLike<number>, rows: number, cols: number, relu: boolean): Float64Array {
  const y = new Float64Array(n * cols);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cols; j++) {
      let s = b[j]!;
      for (let k = 0; k < rows; k++) s += x[i * rows + k]! * w[k * outFull + j]!;
      y[i * cols + j] = relu ? Math.max(0, s) : s;
    }
  }
  return y;
}

/** Logits of subnet (depth, units) from checkpoint tensors, in float64. */
export function refForward(t: Record<string, NamedTensor>, depth: number, units: number, x: Float32Array, n: number): Float64Array {
  const hidden = t['layers.0.weight']!.dims[1]!;
  const classes = t['head.weight']!.dims[1]!;
  let h: ArrayLike<number> = x;
  let rows = t['layers.0.weight']!.dims[0]!;
  for (let i = 0; i < depth; i++) {
    h = refDense(h, n, t[`layers.${i}.weight`]!.data, hidden, t[`layers.${i}.bias`]!.data, rows, units, true);
    rows = units;
  }
  return refDense(h, n, t['head.weight']!.data, classes, t['head.bias']!.data, units, classes, false);
}

/** Mean softmax cross-entropy in float64. */
export function refCrossEntropy(logits: Float64Array, labels: ArrayLike<number>, n: number, classes: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    total += lse - row[labels[i]!]!;
  }
  return total / n;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Register tfjs's own gradient definitions for the kernels a plain dense layer uses.
 * `@tensorflow/tfjs-core`'s Node bundle registers none (the `@tensorflow/tfjs` union package
 * does), so they are loaded from its ESM build; tsx resolves their extensionless imports.
 */
export async function registerBuiltinGradients(): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const configs: [string, string][] = [['BatchMatMul_grad', 'batchMatMulGradConfig'], ['Relu_grad', 'reluGradConfig'], ['Reshape_grad', 'reshapeGradConfig'], ['Add_grad', 'addGradConfig']];
  for (const [file, name] of configs) {
    const mod = (await import(`@tensorflow/tfjs-core/dist/gradients/${file}.js`)) as Record<string, { kernelName: string }>;
    if (!tf.getGradient(mod[name]!.kernelName)) tf.registerGradient(mod[name] as never);
  }
}
