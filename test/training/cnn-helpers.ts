/**
 * Float64 JavaScript references for the CNN tests, written from the definitions (no tfjs):
 * a conv (NHWC input, HWIO filter, symmetric zero padding) and finite differences.
 */

export interface ConvShape {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
}

export function convOutSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/** y[n, oy, ox, co] = sum x[n, oy*s + i - p, ox*s + j - p, ci] * w[i, j, ci, co]. */
export function refConv(x: ArrayLike<number>, w: ArrayLike<number>, s: ConvShape): Float64Array {
  const oh = convOutSize(s.h, s.kh, s.stride, s.pad);
  const ow = convOutSize(s.w, s.kw, s.stride, s.pad);
  const y = new Float64Array(s.n * oh * ow * s.co);
  for (let n = 0; n < s.n; n++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let co = 0; co < s.co; co++) {
          let acc = 0;
          for (let i = 0; i < s.kh; i++) {
            const iy = oy * s.stride + i - s.pad;
            if (iy < 0 || iy >= s.h) continue;
            for (let j = 0; j < s.kw; j++) {
              const ix = ox * s.stride + j - s.pad;
              if (ix < 0 || ix >= s.w) continue;
              for (let ci = 0; ci < s.ci; ci++) acc += x[((n * s.h + iy) * s.w + ix) * s.ci + ci]! * w[((i * s.kw + j) * s.ci + ci) * s.co + co]!;
            }
          }
          y[((n * oh + oy) * ow + ox) * s.co + co] = acc;
        }
      }
    }
  }
  return y;
}

/** Central finite differences of a scalar function of `params` (float64). */
export function finiteDiff(params: Float64Array, f: (p: Float64Array) => number, eps = 1e-3): Float64Array {
  const g = new Float64Array(params.length);
  for (let i = 0; i < params.length; i++) {
    const keep = params[i]!;
    params[i] = keep + eps;
    const up = f(params);
    params[i] = keep - eps;
    const down = f(params);
    params[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
