/**
 * Gradients for the basic kernels training composes with (Add, Mul, Slice, Sum, ...).
 *
 * Why: the tfjs-core Node bundle (`dist/tf-core.node.js`) registers no gradients at all; the
 * `@tensorflow/tfjs` union package does, through `dist/register_all_gradients.js`, but that
 * file is ESM with extensionless imports that Node cannot load (ERR_UNSUPPORTED_DIR_IMPORT).
 * These are the same formulas as tfjs's own gradient configs, for the kernels our models
 * actually differentiate through; the heavy ops (dense, attention, layer norm, GELU,
 * embedding, cross-entropy) have hand-written gradients in their own customGrad.
 * A kernel that already has a gradient is left alone.
 *
 * @example
 * registerGradients();
 * tf.grad((x) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, 2])); // [2, 4]
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';

/** Sum dy over the axes `shape` was broadcast along, then reshape to `shape`. */
function unbroadcast(dy: Tensor, shape: number[], outShape: number[]): Tensor {
  const axes = tf.broadcast_util.getReductionAxes(shape, outShape);
  return tf.reshape(axes.length > 0 ? tf.sum(dy, axes) : dy, shape);
}

function broadcastShape(a: Tensor, b: Tensor): number[] {
  return tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
}

/** dy reshaped to x's rank with the reduced axes kept as 1, broadcast back to x's shape. */
function expandReduced(dy: Tensor, x: Tensor, attrs: NamedAttrMap): Tensor {
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
  const shape = x.shape.slice();
  for (const a of axes) shape[a] = 1;
  return tf.mul(tf.reshape(dy, shape), tf.ones(x.shape, 'float32'));
}

const configs: GradConfig[] = [
  {
    kernelName: tf.Add,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => {
      const out = broadcastShape(a!, b!);
      return { a: () => unbroadcast(dy as Tensor, a!.shape, out), b: () => unbroadcast(dy as Tensor, b!.shape, out) };
    },
  },
  {
    kernelName: tf.Sub,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => {
      const out = broadcastShape(a!, b!);
      return { a: () => unbroadcast(dy as Tensor, a!.shape, out), b: () => tf.neg(unbroadcast(dy as Tensor, b!.shape, out)) };
    },
  },
  {
    kernelName: tf.Multiply,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => {
      const out = broadcastShape(a!, b!);
      return {
        a: () => unbroadcast(tf.mul(dy as Tensor, tf.cast(b!, 'float32')), a!.shape, out),
        b: () => unbroadcast(tf.mul(dy as Tensor, tf.cast(a!, 'float32')), b!.shape, out),
      };
    },
  },
  {
    kernelName: tf.RealDiv,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => {
      const out = broadcastShape(a!, b!);
      return {
        a: () => unbroadcast(tf.div(dy as Tensor, tf.cast(b!, 'float32')), a!.shape, out),
        b: () => tf.neg(tf.div(unbroadcast(tf.mul(dy as Tensor, tf.cast(a!, 'float32')), b!.shape, out), tf.square(tf.cast(b!, 'float32')))),
      };
    },
  },
  { kernelName: tf.Neg, gradFunc: (dy) => ({ x: () => tf.neg(dy as Tensor) }) },
  {
    kernelName: tf.AddN,
    saveAllInputs: true,
    gradFunc: (dy, saved) => Object.fromEntries(saved.map((_, i) => [i, () => (dy as Tensor).clone()])),
  },
  { kernelName: tf.Sum, inputsToSave: ['x'], gradFunc: (dy, [x], attrs) => ({ x: () => expandReduced(dy as Tensor, x!, attrs) }) },
  {
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({
      x: () => {
        const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x!.shape);
        const n = axes.reduce((p, a) => p * x!.shape[a]!, 1);
        return tf.div(expandReduced(dy as Tensor, x!, attrs), n);
      },
    }),
  },
  { kernelName: tf.Reshape, inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.reshape(dy as Tensor, x!.shape) }) },
  {
    kernelName: tf.Transpose,
    gradFunc: (dy, _saved, attrs) => {
      const perm = attrs.perm as number[];
      const undo = perm.map((_, i) => perm.indexOf(i));
      return { x: () => tf.transpose(dy as Tensor, undo) };
    },
  },
  {
    kernelName: tf.Slice,
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const [begin, size] = tf.slice_util.parseSliceParams(x!, attrs.begin as number[], attrs.size as number[]);
      const pads = x!.shape.map((n, i) => [begin[i]!, n - begin[i]! - size[i]!] as [number, number]);
      return { x: () => tf.pad(dy as Tensor, pads) };
    },
  },
  {
    kernelName: tf.Concat,
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const axis = tf.util.parseAxisParam(attrs.axis as number, saved[0]!.shape)[0]!;
      const parts = tf.split(dy as Tensor, saved.map((t) => t.shape[axis]!), axis);
      return Object.fromEntries(parts.map((p, i) => [i, () => p]));
    },
  },
  { kernelName: tf.Cast, gradFunc: (dy) => ({ x: () => (dy as Tensor).clone() }) },
  { kernelName: tf.Identity, gradFunc: (dy) => ({ x: () => tf.cast(dy as Tensor, 'float32') }) },
  { kernelName: tf.Square, inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy as Tensor, tf.mul(tf.cast(x!, 'float32'), 2)) }) },
  { kernelName: tf.Exp, outputsToSave: [true], gradFunc: (dy, [y]) => ({ x: () => tf.mul(dy as Tensor, y!) }) },
  { kernelName: tf.Log, inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.div(dy as Tensor, tf.cast(x!, 'float32')) }) },
  { kernelName: tf.Relu, inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy as Tensor, tf.step(tf.cast(x!, 'float32'))) }) },
];

/** Register the gradients above for kernels that have none yet. Idempotent. */
export function registerGradients(): void {
  for (const c of configs) if (!tf.getGradient(c.kernelName)) tf.registerGradient(c);
}

registerGradients();
