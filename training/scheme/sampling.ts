/**
 * Which subnets train on a step, and how they group into forward passes.
 *
 * - `uniform`: g distinct subnets drawn at random from the lattice (SortedNet's random sampling).
 * - `sandwich`: the largest and the smallest subnet every step, the other g - 2 at random.
 * - `all-exits`: g distinct width groups at random (one level per dim other than depth); each
 *   trains every depth exit from one forward pass (Sorted LLaMA).
 * - `sandwich-exits`: sandwich where the smallest end is every depth exit of the smallest width
 *   group, from one pass: the largest subnet, the smallest width at each depth, and g - 2 others
 *   at random. The narrowest subnets' deeper layers train every step for about the price of one
 *   narrow pass (with depth the only dim besides width, no other cost).
 * - `ends-exits`: both ends at every depth exit: the widest and the narrowest width group, each
 *   in one pass, and g - 2 others at random. The full width's shallower subnets ride on the
 *   largest subnet's pass (a head per exit).
 *
 * Subnets that share their non-depth levels share a pass: the model runs once at that width
 * and applies the head after each depth that trains (`forwardDepths`).
 *
 * @example
 * const dims = { depth: [1, 2, 3], width: [0.25, 0.5, 1] };
 * planStep(dims, 2, 'all-exits', new Rng(0));
 * // { subnets: [d1-w50, d2-w50, d3-w50, d1-w25, ...], passes: [{ levels: { width: 0.5 }, depths: [1, 2, 3] }, { levels: { width: 0.25 }, ... }] }
 * planStep(dims, 3, 'sandwich', new Rng(0)).subnets.map(subnetId); // ['d3-w100', 'd1-w25', 'd2-w50']
 */
import type { Rng } from '../rng.js';
import { latticeOf, subnetId, type Dim, type Levels } from '../spec.js';

export type Sampling = 'uniform' | 'sandwich' | 'all-exits' | 'sandwich-exits' | 'ends-exits';
export const SAMPLINGS: readonly Sampling[] = ['uniform', 'sandwich', 'all-exits', 'sandwich-exits', 'ends-exits'];
/** Modes that train the largest and the smallest subnet every step (so need g >= 2). */
export const SANDWICH_SAMPLINGS: readonly Sampling[] = ['sandwich', 'sandwich-exits', 'ends-exits'];

/** One forward pass of a step: the levels of every dim but depth, and the depth exits that train. */
export interface Pass {
  levels: Omit<Levels, 'depth'>;
  depths: number[];
}

export interface StepPlan {
  /** Every subnet that trains this step, in pass order. */
  subnets: Levels[];
  passes: Pass[];
}

/**
 * How likely each subnet is to be drawn at random (relative, positive). Without one, every
 * subnet is equally likely (SortedNet's uniform sampling); `costWeight` favours cheap subnets.
 */
export type DrawWeight = (levels: Levels) => number;

/**
 * `k` distinct picks from `pool` at random: uniform without `weight` (the draws of
 * `rng.choose`, so seeded runs repeat), else in proportion to `weight`.
 */
function draw<T>(pool: readonly T[], k: number, rng: Rng, weight?: (x: T) => number): T[] {
  const picks = weight ? rng.chooseWeighted(pool.map(weight), k) : rng.choose(pool.length, k);
  return picks.map((i) => pool[i]!);
}

/**
 * Draw weight `cost(levels)^-power`: with `power` 1 a subnet twice as expensive is drawn half
 * as often, so cheap subnets train more often and a step costs less; 0 is uniform (returns
 * undefined, the plain uniform draw).
 */
export function costWeight(cost: (levels: Levels) => number, power: number): DrawWeight | undefined {
  if (power === 0) return undefined;
  const known = new Map<string, number>();
  return (levels) => {
    const id = subnetId(levels);
    let w = known.get(id);
    if (w === undefined) known.set(id, (w = Math.max(1, cost(levels)) ** -power));
    return w;
  };
}

/**
 * g subnets for one step: distinct, largest first under `sandwich`. If g >= lattice size, all
 * of them, largest first. `weight` makes the random draws weighted (see DrawWeight).
 */
export function sampleSubnets(lattice: readonly Levels[], g: number, sampling: 'uniform' | 'sandwich', rng: Rng, weight?: DrawWeight): Levels[] {
  const n = lattice.length;
  if (g >= n) return [...lattice].reverse();
  if (sampling === 'uniform') return draw(lattice, g, rng, weight);
  // sandwich: the two ends, then g - 2 distinct from the middle.
  const middle = draw(lattice.slice(1, n - 1), g - 2, rng, weight);
  return [lattice[n - 1]!, lattice[0]!, ...middle];
}

const groupKey = (levels: Levels): string => JSON.stringify(Object.entries(levels).filter(([k]) => k !== 'depth'));

/** Subnets grouped by their non-depth levels, in order of first appearance (one pass per group). */
export function passesOf(subnets: readonly Levels[]): Pass[] {
  const byKey = new Map<string, Pass>();
  for (const s of subnets) {
    const { depth, ...levels } = s;
    const key = groupKey(s);
    let pass = byKey.get(key);
    if (!pass) byKey.set(key, (pass = { levels, depths: [] }));
    if (depth !== undefined && !pass.depths.includes(depth)) pass.depths.push(depth);
  }
  return [...byKey.values()];
}

/**
 * The subnets and passes of one step. `g` counts subnets under `uniform` and `sandwich`, and
 * width groups (each with all its depth exits) under `all-exits`. Draws from `rng` exactly as
 * `sampleSubnets` does, so a seeded run repeats. `weight` weights every random draw (a width
 * group under `all-exits` by its deepest subnet); the ends of the sandwich modes stay fixed.
 */
export function planStep(dims: Partial<Record<Dim, number[]>>, g: number, sampling: Sampling, rng: Rng, weight?: DrawWeight): StepPlan {
  if (sampling === 'sandwich-exits' || sampling === 'ends-exits') {
    const lattice = latticeOf(dims);
    const group = (s: Levels): Levels[] => {
      const key = groupKey(s);
      return lattice.filter((x) => groupKey(x) === key);
    };
    const largest = lattice.at(-1)!;
    // The largest first (distillation's teacher), then the rest of its group under ends-exits.
    const wide = sampling === 'ends-exits' ? [largest, ...group(largest).filter((s) => s !== largest)] : [largest];
    const ends = [...wide, ...group(lattice[0]!)];
    const rest = lattice.filter((s) => !ends.includes(s));
    const picked = draw(rest, Math.min(Math.max(0, g - 2), rest.length), rng, weight);
    const subnets = [...new Set([...ends, ...picked])];
    return { subnets, passes: passesOf(subnets) };
  }
  if (sampling !== 'all-exits') {
    const subnets = sampleSubnets(latticeOf(dims), g, sampling, rng, weight);
    return { subnets, passes: passesOf(subnets) };
  }
  const { depth: depths, ...rest } = dims;
  const groups = latticeOf(rest);
  const deepest = depths ? Math.max(...depths) : undefined;
  const chosen = g >= groups.length ? [...groups].reverse() : draw(groups, g, rng, weight && ((l) => weight(deepest === undefined ? l : { ...l, depth: deepest })));
  const passes = chosen.map((levels) => ({ levels, depths: [...(depths ?? [])] }));
  return { subnets: passes.flatMap((p) => (depths ? p.depths.map((depth) => ({ depth, ...p.levels })) : [p.levels])), passes };
}
