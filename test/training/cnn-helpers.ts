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

/** Training-mode batch norm in float64 over rows of x [m, c], optional residual, ReLU or not. */
export function refBatchNorm(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, m: number, c: number, relu: boolean, res?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(m * c);
  for (let k = 0; k < c; k++) {
    let mu = 0;
    for (let i = 0; i < m; i++) mu += x[i * c + k]!;
    mu /= m;
    let v = 0;
    for (let i = 0; i < m; i++) v += (x[i * c + k]! - mu) ** 2;
    v /= m;
    for (let i = 0; i < m; i++) {
      let z = (gamma[k]! * (x[i * c + k]! - mu)) / Math.sqrt(v + 1e-5) + beta[k]!;
      if (res) z += res[i * c + k]!;
      y[i * c + k] = relu ? Math.max(0, z) : z;
    }
  }
  return y;
}

export interface RefCnnConfig {
  imageSize: number;
  inChannels: number;
  classes: number;
  channels: number;
  stages: number;
  blocks: number;
  stemStride: number;
}

/**
 * Mean cross-entropy of subnet (depth, width) in training mode (batch statistics), float64,
 * written from docs/cnn.md with no tfjs and no shared code: `t` maps checkpoint names to
 * full tensors (HWIO conv weights).
 */
export function refCnnLoss(t: Record<string, { dims: number[]; data: ArrayLike<number> }>, cfg: RefCnnConfig, depth: number, width: number, x: ArrayLike<number>, labels: ArrayLike<number>, n: number): number {
  const units = (c: number) => Math.max(1, Math.round(width * c));
  const sliceW = (name: string, cin: number, cout: number) => {
    const { dims, data } = t[name]!;
    const [k, , fin, fout] = dims as [number, number, number, number];
    const out = new Float64Array(k * k * cin * cout);
    for (let a = 0; a < k * k; a++) for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) out[(a * cin + i) * cout + o] = data[(a * fin + i) * fout + o]!;
    return { w: out, k };
  };
  let h: ArrayLike<number> = x;
  let size = cfg.imageSize;
  let ch = cfg.inChannels;
  const convBn = (input: ArrayLike<number>, conv: string, bn: string, cout: number, stride: number, relu: boolean, res?: ArrayLike<number>) => {
    const { w, k } = sliceW(`${conv}.weight`, ch, cout);
    const pad = (k - 1) / 2;
    const y = refConv(input, w, { n, h: size, w: size, ci: ch, co: cout, kh: k, kw: k, stride, pad });
    const out = convOutSize(size, k, stride, pad);
    return { y: refBatchNorm(y, t[`${bn}.weight`]!.data, t[`${bn}.bias`]!.data, n * out * out, cout, relu, res), size: out };
  };
  let r = convBn(h, 'stem.conv', 'stem.bn', units(cfg.channels), cfg.stemStride, true);
  h = r.y;
  size = r.size;
  ch = units(cfg.channels);
  for (let s = 0; s < cfg.stages; s++) {
    const cs = units(cfg.channels * 2 ** s);
    for (let b = 0; b < depth; b++) {
      const p = `stages.${s}.blocks.${b}`;
      const stride = b === 0 && !(s === 0 && cfg.stemStride === 2) ? 2 : 1;
      const a = convBn(h, `${p}.conv1`, `${p}.bn1`, cs, stride, true);
      const skip = stride === 2 ? convBn(h, `${p}.shortcut.conv`, `${p}.shortcut.bn`, cs, 2, false).y : h;
      size = a.size;
      ch = cs;
      r = convBn(a.y, `${p}.conv2`, `${p}.bn2`, cs, 1, true, skip);
      h = r.y;
    }
  }
  const classes = cfg.classes;
  const hw = t['head.weight']!;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const pooled = new Float64Array(ch);
    for (let p = 0; p < size * size; p++) for (let c = 0; c < ch; c++) pooled[c]! += h[(i * size * size + p) * ch + c]! / (size * size);
    const logits = new Float64Array(classes);
    for (let k = 0; k < classes; k++) {
      let z = t['head.bias']!.data[k]!;
      for (let c = 0; c < ch; c++) z += pooled[c]! * hw.data[c * classes + k]!;
      logits[k] = z;
    }
    const m = Math.max(...logits);
    loss += m + Math.log(logits.reduce((acc, z) => acc + Math.exp(z - m), 0)) - logits[labels[i]!]!;
  }
  return loss / n;
}
