/**
 * Epoch-ordered mini-batches for the classifier loops: a shuffled example order per epoch
 * (drawn from the run's seeded generator, saved in resume files) and the rows of step `s`.
 *
 * @example
 * if (s === 0) rng.shuffle(order);                 // a new epoch
 * fillBatch(data.train, order, s, 128, xBuf, yBuf); // rows order[s*128 .. s*128+127]
 */
import type { Split } from '../data/fashion-mnist.js';

/** Copy the examples of step `s` (0-based within the epoch) into `x` and `y`. */
export function fillBatch(split: Split, order: Uint32Array, s: number, batchSize: number, x: Float32Array, y: Uint8Array): void {
  const per = split.features;
  for (let i = 0; i < batchSize; i++) {
    const idx = order[s * batchSize + i]!;
    x.set(split.images.subarray(idx * per, (idx + 1) * per), i * per);
    y[i] = split.labels[idx]!;
  }
}

/**
 * The batch of global step `step`: reshuffles `order` at each epoch's first step (so a resumed
 * run, which restores `order` and the generator, draws the same batches), then copies the rows.
 * Returns the epoch and whether this step starts it.
 */
export function loadStep(step: number, stepsPerEpoch: number, rng: { shuffle(a: Uint32Array): void }, split: Split, order: Uint32Array, batchSize: number, x: Float32Array, y: Uint8Array): { epoch: number; first: boolean } {
  const s = step % stepsPerEpoch;
  if (s === 0) rng.shuffle(order);
  fillBatch(split, order, s, batchSize, x, y);
  return { epoch: Math.floor(step / stepsPerEpoch), first: s === 0 };
}
