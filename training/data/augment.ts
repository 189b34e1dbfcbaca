/**
 * Image augmentation for the classifier loops: each image of a mini-batch is flipped left-right
 * with probability 1/2 and shifted by up to `shift` pixels each way (zero fill), in place. The
 * draws come from a hash of (seed, step, row), not from a generator, so a resumed run, or the
 * same step run again, augments exactly as before without any state to save.
 *
 * @example
 * loadStep(step, stepsPerEpoch, rng, data.train, order, 128, xBuf, yBuf);
 * augmentBatch(xBuf, 128, { size: 28, channels: 1, shift: 2 }, config.seed, step);
 */

export interface AugmentShape {
  /** Image height and width (square images, row-major, channels last). */
  size: number;
  channels: number;
  /** Largest shift in pixels, each axis. */
  shift: number;
}

/** 32 well-mixed bits of (a, b, c): a murmur3-style finalizer over their combination. */
function mix(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35) ^ Math.imul(c + 0x165667b1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Flip and shift each of the first `n` images of `x` in place; returns `x`. */
export function augmentBatch(x: Float32Array, n: number, shape: AugmentShape, seed: number, step: number): Float32Array {
  const { size, channels: ch, shift } = shape;
  const per = size * size * ch;
  const span = 2 * shift + 1;
  const tmp = new Float32Array(per);
  for (let i = 0; i < n; i++) {
    const h = mix(seed, step, i);
    const flip = (h & 1) === 1;
    const dy = ((h >>> 1) % span) - shift;
    const dx = ((h >>> 9) % span) - shift;
    if (!flip && dx === 0 && dy === 0) continue;
    const img = x.subarray(i * per, (i + 1) * per);
    tmp.fill(0);
    // Output pixel (r, c) reads input (r - dy, c' - dx), c' = c or its mirror.
    for (let r = 0; r < size; r++) {
      const sr = r - dy;
      if (sr < 0 || sr >= size) continue;
      for (let c = 0; c < size; c++) {
        const sc = (flip ? size - 1 - c : c) - dx;
        if (sc < 0 || sc >= size) continue;
        for (let k = 0; k < ch; k++) tmp[(r * size + c) * ch + k] = img[(sr * size + sc) * ch + k]!;
      }
    }
    img.set(tmp);
  }
  return x;
}
