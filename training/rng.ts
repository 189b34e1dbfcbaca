/**
 * Seeded random numbers, so a training run with the same seed samples the same batches,
 * subnets and initial weights on every backend.
 *
 * @example
 * const rng = new Rng(0);
 * rng.next();      // 0.7342... (uniform in [0, 1))
 * rng.int(10);     // 3         (uniform integer in [0, 10))
 * new Rng(1).setState(rng.getState()).next() === rng.next(); // true: the state is four int32 words
 */

/** sfc32 generator seeded through splitmix32: small, fast and good enough for sampling. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const split = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = split();
    this.b = split();
    this.c = split();
    this.d = split();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** The generator's whole state (four int32 words), for resuming a run exactly. */
  getState(): [number, number, number, number] {
    return [this.a, this.b, this.c, this.d];
  }

  /** Continue from a state `getState()` returned. */
  setState(state: readonly number[]): this {
    if (state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= -0x80000000 && w <= 0xffffffff)) {
      throw new Error(`Rng state must be four 32-bit words, got ${JSON.stringify(state)}`);
    }
    [this.a, this.b, this.c, this.d] = state.map((w) => w | 0) as [number, number, number, number];
    return this;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Fisher-Yates shuffle in place; returns its argument. */
  shuffle<T extends { length: number; [i: number]: any }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }

  /** `k` distinct integers from [0, n), in sampling order. */
  choose(n: number, k: number): number[] {
    const pool = Array.from({ length: n }, (_, i) => i);
    const out: number[] = [];
    for (let i = 0; i < Math.min(k, n); i++) {
      const j = i + this.int(n - i);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      out.push(pool[i]!);
    }
    return out;
  }

  /**
   * `k` distinct indices into `weights`, in sampling order: each draw picks among the indices
   * not drawn yet with probability proportional to their weight (positive and finite).
   */
  chooseWeighted(weights: readonly number[], k: number): number[] {
    const left = weights.map((_, i) => i);
    const out: number[] = [];
    while (out.length < k && left.length > 0) {
      let total = 0;
      for (const i of left) total += weights[i]!;
      let r = this.next() * total;
      let at = left.length - 1;
      for (let j = 0; j < left.length; j++) {
        r -= weights[left[j]!]!;
        if (r < 0) {
          at = j;
          break;
        }
      }
      out.push(left[at]!);
      left.splice(at, 1);
    }
    return out;
  }
}
