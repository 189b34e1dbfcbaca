/**
 * One sorted training step for any architecture: the planned passes run (each one forward
 * pass yielding logits after each of its depth exits), every subnet's loss is its hard-label
 * loss, distilled from the full subnet's detached logits when `distill.alpha > 0`, the losses
 * are combined with `scale` (1/count for a mean, 1 for a sum) and one backward pass accumulates
 * every subnet's gradient into the shared weights (gradient accumulation over the g samples).
 * Everything runs in tf.tidy: a step leaves no tensors behind.
 *
 * @example
 * const hard = sortedStep({
 *   variables: model.variables(), forward: (levels, depths) => model.forwardDepths(x, units(levels), depths),
 *   hardLoss: (logits) => softmaxCrossEntropy(logits, y), passes, scale: 1 / plan.subnets.length,
 *   full: { depth: 3, width: 1 }, distill: { alpha: 0.5, temperature: 1 },
 * }, applyTo(optimizer));
 * hard; // [0.41, 0.87, ...] each trained subnet's cross-entropy, in pass order
 */
import * as tf from '@tensorflow/tfjs-core';
import { scaledSum } from '../models/loss.js';
import type { Levels } from '../spec.js';
import { distilled, softTargets } from './distill.js';
import type { Pass } from './sampling.js';

export interface DistillOptions {
  /** Weight of the soft term in [0, 1]; 0 is off. */
  alpha: number;
  /** Softmax temperature T. */
  temperature: number;
}

export interface StepObjective<S = unknown> {
  /** Trainable variables the gradient is taken for. */
  variables: tf.Variable[];
  /** Logits [rows, classes] after each of `depths`, for one setting of the other dims, in one pass. */
  forward: (levels: Omit<Levels, 'depth'>, depths: number[], shared?: S) => tf.Tensor2D[];
  /**
   * Work every pass of the step shares (the MLP's first layer at the widest width), computed
   * once inside the gradient function and handed to each `forward`. @defaultValue none
   */
  shared?: () => S;
  /** Mean hard-label loss of one subnet's logits. */
  hardLoss: (logits: tf.Tensor2D) => tf.Scalar;
  passes: readonly Pass[];
  /** Multiplies the summed subnet losses: 1 / subnets for a mean, 1 for a sum. */
  scale: number;
  /** The full (largest) subnet: distillation's teacher, and the subnet `largestWeight` weighs. */
  full: Levels;
  /** In-place distillation from `full`, whose own loss stays the hard loss. @defaultValue off */
  distill?: DistillOptions;
  /** Weight of a subnet's loss by its depth (e.g. to favour shallow exits). @defaultValue 1 for every depth */
  depthWeight?: (depth: number) => number;
  /** The full subnet's loss counts this many times when it trains (`largestWeight`). @defaultValue 1 */
  largestWeight?: number;
}

const sameLevels = (a: Levels, b: Levels): boolean => {
  const ka = Object.keys(a) as (keyof Levels)[];
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

/**
 * Gradients in `variables` order, `tensor` undefined where no trained subnet uses the variable.
 * This is the form tf.Optimizer.minimize hands to applyGradients (tf's Adam keys its moments
 * by position, so the list must always hold every variable).
 */
export type VariableGradients = { name: string; tensor: tf.Tensor | undefined }[];

/** `optimizer.applyGradients` for a VariableGradients list. */
export function applyTo(optimizer: tf.Optimizer): (grads: VariableGradients) => void {
  return (grads) => optimizer.applyGradients(grads as { name: string; tensor: tf.Tensor }[]);
}

/**
 * Compute the step's gradients and hand them to `apply` (e.g. `applyTo(optimizer)`) inside
 * the step's tidy; returns each trained subnet's hard loss, in pass order.
 */
export function sortedStep<S>(o: StepObjective<S>, apply: (grads: VariableGradients) => void): number[] {
  return tf.tidy(() => {
    const d = o.distill && o.distill.alpha > 0 ? o.distill : undefined;
    const isFull = (pass: Pass, depth: number): boolean => sameLevels({ depth, ...pass.levels }, o.full);
    const isTeacher = (pass: Pass, depth: number): boolean => d !== undefined && isFull(pass, depth);
    // When the teacher trains this step (sandwich: always), its own pass gives the soft targets:
    // they only enter the KL's custom gradient as constants, so no gradient reaches them, and the
    // step saves a forward pass of the largest subnet. Otherwise the teacher runs first, outside
    // the gradient function.
    const first = o.passes.findIndex((p) => p.depths.some((depth) => isTeacher(p, depth)));
    const inPlan = first >= 0;
    let targets = d && !inPlan ? softTargets(tf.tidy(() => {
      const { depth, ...levels } = o.full;
      return o.forward(levels, [depth!])[0]!;
    }), d.temperature) : undefined;
    let hard: tf.Tensor | undefined;
    const { grads } = tf.variableGrads(() => {
      const shared = o.shared?.();
      const losses: tf.Scalar[] = [];
      const hards: tf.Scalar[][] = o.passes.map(() => []);
      // The teacher's pass first (under sandwich it is first already), each pass's losses after its forward.
      const order = o.passes.map((_, k) => k);
      if (first > 0) order.unshift(...order.splice(first, 1));
      for (const k of order) {
        const pass = o.passes[k]!;
        const logits = o.forward(pass.levels, pass.depths, shared);
        pass.depths.forEach((depth, i) => {
          if (!isTeacher(pass, depth)) return;
          // Kept: the KL's backward reads them after the forward scope ends (disposed below).
          targets = softTargets(logits[i]!, d!.temperature);
          tf.keep(targets.probs);
          tf.keep(targets.plogp);
        });
        pass.depths.forEach((depth, i) => {
          const h = o.hardLoss(logits[i]!);
          hards[k]!.push(h);
          const loss = targets && !isTeacher(pass, depth) ? distilled(h, logits[i]!, targets, d!.alpha) : h;
          const w = (o.depthWeight?.(depth) ?? 1) * (o.largestWeight !== undefined && isFull(pass, depth) ? o.largestWeight : 1);
          losses.push(w === 1 ? loss : tf.mul(loss, w));
        });
      }
      // Kept: the gradient scope disposes everything but the loss.
      hard = tf.keep(tf.stack(hards.flat()));
      return scaledSum(losses, o.scale);
    }, o.variables);
    apply(o.variables.map((v) => ({ name: v.name, tensor: grads[v.name] })));
    if (inPlan && targets) tf.dispose([targets.probs, targets.plogp]);
    const values = Array.from(hard!.dataSync());
    hard!.dispose();
    return values;
  });
}
