/**
 * Adam with decoupled weight decay (AdamW, Loshchilov & Hutter, arXiv 1711.05101), as a
 * tf.Optimizer, with its state readable and restorable so a run can resume bit for bit.
 *
 * Per variable w with gradient g at step t (1-based):
 *   m = β1·m + (1 - β1)·g ;  v = β2·v + (1 - β2)·g²
 *   w = w - lr·(m / (1 - β1^t)) / (sqrt(v / (1 - β2^t)) + ε) - lr·wd·w     (wd only where `decays(w)`)
 * The decay uses w before the update. By default only tensors of rank >= 2 decay (dense and conv
 * weights, embeddings), not biases or norm scales (nanoGPT's rule). A variable without a
 * gradient this step is left alone, moments and decay included (as PyTorch does).
 * The bias corrections are computed in float64 from t, so restoring t restores them exactly.
 *
 * @example
 * const opt = new AdamW({ lr: 2e-3, weightDecay: 0.1 });
 * opt.minimize(() => loss(), false, model.variables());
 * const state = opt.exportState((v) => nameOf(v));   // { step: 1, m: { 'head.weight': Float32Array }, v: {...} }
 * other.importState(state, (name) => variableNamed(name));
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamWOptions {
  /** Learning rate; the loops set `learningRate` every step from the schedule. @defaultValue 0.001 */
  lr?: number;
  /** @defaultValue 0.9 */
  beta1?: number;
  /** @defaultValue 0.999 */
  beta2?: number;
  /** @defaultValue 1e-8 */
  epsilon?: number;
  /** Decoupled weight decay per step, times the learning rate. 0 is plain Adam. @defaultValue 0 */
  weightDecay?: number;
  /** Which variables decay. @defaultValue rank >= 2 (weights, not biases or norms) */
  decays?: (v: tf.Variable) => boolean;
}

/** Optimizer state keyed by the caller's stable names (checkpoint tensor names). */
export interface AdamWState {
  /** Updates taken (t). */
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

export const decaysByRank = (v: tf.Variable): boolean => v.rank >= 2;

export class AdamW extends tf.Optimizer {
  static get className(): string {
    return 'AdamW';
  }

  // tf.Optimizer's Symbol.hasInstance accepts any optimizer (duck typing), so `x instanceof
  // AdamW` would be true for tf.train.adam too; check the real prototype chain instead.
  static override [Symbol.hasInstance](x: unknown): boolean {
    return typeof x === 'object' && x !== null && Object.prototype.isPrototypeOf.call(AdamW.prototype, x);
  }

  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly decays: (v: tf.Variable) => boolean;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private t = 0;

  constructor(opts: AdamWOptions = {}) {
    super();
    this.learningRate = opts.lr ?? 0.001;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.decays = opts.decays ?? decaysByRank;
  }

  /** Updates taken so far. */
  get step(): number {
    return this.t;
  }

  applyGradients(gradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const entries: [string, tf.Tensor][] = Array.isArray(gradients) ? gradients.map((g) => [g.name, g.tensor]) : Object.entries(gradients);
    this.t++;
    const { beta1: b1, beta2: b2, learningRate: lr } = this;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    tf.tidy(() => {
      for (const [name, g] of entries) {
        if (g == null) continue;
        const w = tf.engine().registeredVariables[name];
        if (!w) throw new Error(`AdamW: no variable named ${name}`);
        const m = this.moment(this.m, name, w);
        const v = this.moment(this.v, name, w);
        const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        m.assign(m1);
        v.assign(v1);
        const update = tf.div(tf.div(m1, c1), tf.add(tf.sqrt(tf.div(v1, c2)), this.epsilon));
        let next = tf.sub(w, tf.mul(update, lr));
        if (this.weightDecay > 0 && this.decays(w)) next = tf.sub(next, tf.mul(w, lr * this.weightDecay));
        w.assign(next);
      }
    });
    this.incrementIterations();
  }

  private moment(store: Map<string, tf.Variable>, name: string, w: tf.Variable): tf.Variable {
    let s = store.get(name);
    if (!s) store.set(name, (s = tf.tidy(() => tf.variable(tf.zerosLike(w), false))));
    return s;
  }

  /** Moments and step count, keyed by `nameOf(variable)`; moments not created yet are zeros. */
  exportState(variables: readonly tf.Variable[], nameOf: (v: tf.Variable, i: number) => string): AdamWState {
    const state: AdamWState = { step: this.t, m: {}, v: {} };
    variables.forEach((w, i) => {
      const name = nameOf(w, i);
      const read = (store: Map<string, tf.Variable>) => (store.get(w.name)?.dataSync() as Float32Array | undefined)?.slice() ?? new Float32Array(w.size);
      state.m[name] = read(this.m);
      state.v[name] = read(this.v);
    });
    return state;
  }

  /** Restore `exportState`'s output onto `variables` (the same names). Replaces any current state. */
  importState(state: AdamWState, variables: readonly tf.Variable[], nameOf: (v: tf.Variable, i: number) => string): void {
    this.disposeMoments();
    this.t = state.step;
    this.iterations_ = state.step;
    variables.forEach((w, i) => {
      const name = nameOf(w, i);
      const put = (store: Map<string, tf.Variable>, data: Float32Array | undefined, which: string) => {
        if (!data || data.length !== w.size) throw new Error(`AdamW state: ${which}.${name} has ${data?.length ?? 'no'} values, expected ${w.size}`);
        store.set(w.name, tf.tidy(() => tf.variable(tf.tensor(data, w.shape), false)));
      };
      put(this.m, state.m[name], 'm');
      put(this.v, state.v[name], 'v');
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay };
  }

  private disposeMoments(): void {
    for (const s of [this.m, this.v]) {
      for (const t of s.values()) t.dispose();
      s.clear();
    }
  }

  override dispose(): void {
    this.disposeMoments();
  }
}
