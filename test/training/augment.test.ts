import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { augmentBatch } from '../../training/data/augment.js';

const SIZE = 8;
const shape = { size: SIZE, channels: 1, shift: 2 };
/** n images, each with one pixel lit at (r, c) = (3 + i % 2, 4) and value i + 1. */
function dots(n: number): Float32Array {
  const x = new Float32Array(n * SIZE * SIZE);
  for (let i = 0; i < n; i++) x[i * SIZE * SIZE + (3 + (i % 2)) * SIZE + 4] = i + 1;
  return x;
}

void describe('augmentBatch (flips and shifts, drawn from seed, step and row)', () => {
  void it('moves each image\'s pixels by one flip and a shift of at most 2 each way, and draws the same for the same step', () => {
    const n = 64;
    const a = augmentBatch(dots(n), n, shape, 7, 12);
    assert.deepEqual(a, augmentBatch(dots(n), n, shape, 7, 12), 'the same (seed, step): the same images');
    assert.notDeepEqual(a, augmentBatch(dots(n), n, shape, 7, 13), 'another step: other draws');
    const moves = new Set<string>();
    for (let i = 0; i < n; i++) {
      const img = a.subarray(i * SIZE * SIZE, (i + 1) * SIZE * SIZE);
      const lit = [...img.keys()].filter((k) => img[k] !== 0);
      assert.equal(lit.length, 1, `image ${i}: one lit pixel (none falls off an 8-pixel image from the middle)`);
      assert.equal(img[lit[0]!], i + 1, 'values move, not change');
      const [r, c] = [Math.floor(lit[0]! / SIZE), lit[0]! % SIZE];
      const dy = r - (3 + (i % 2));
      // Unflipped the dot's column is 4 + dx; flipped it is (7 - 4) + dx = 3 + dx.
      const dxPlain = c - 4;
      const dxFlip = c - 3;
      assert.ok(Math.abs(dy) <= 2 && (Math.abs(dxPlain) <= 2 || Math.abs(dxFlip) <= 2), `image ${i}: moved by (${dy}, ${dxPlain})`);
      moves.add(`${dy},${c}`);
    }
    assert.ok(moves.size > 10, `varied draws over 64 images: ${moves.size} distinct moves`);
  });

  void it('keeps every channel of a pixel together and zero-fills what shifts in', () => {
    const x = new Float32Array(4 * SIZE * SIZE * 3).map((_, k) => 1 + (k % 3)); // channel k is k + 1 everywhere
    augmentBatch(x, 4, { ...shape, channels: 3 }, 1, 0);
    for (let p = 0; p < x.length; p += 3) {
      const px = [x[p], x[p + 1], x[p + 2]];
      assert.ok(px.every((v) => v === 0) || (px[0] === 1 && px[1] === 2 && px[2] === 3), `pixel ${p / 3}: ${px}`);
    }
  });
});
