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
import { latticeOf, type Dim, type Levels } from '../spec.js';

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

/** g subnets for one step: distinct, largest first under `sandwich`. If g >= lattice size, all of them, largest first. */
export function sampleSubnets(lattice: readonly Levels[], g: number, sampling: 'uniform' | 'sandwich', rng: Rng): Levels[] {
  const n = lattice.length;
  if (g >= n) return [...lattice].reverse();
  if (sampling === 'uniform') return rng.choose(n, g).map((i) => lattice[i]!);
  // sandwich: the two ends, then g - 2 distinct from the middle.
  const middle = rng.choose(n - 2, g - 2).map((i) => lattice[i + 1]!);
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
 * `sampleSubnets` does, so a seeded run repeats.
 */
export function planStep(dims: Partial<Record<Dim, number[]>>, g: number, sampling: Sampling, rng: Rng): StepPlan {
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
    const picked = rng.choose(rest.length, Math.min(Math.max(0, g - 2), rest.length)).map((i) => rest[i]!);
    const subnets = [...new Set([...ends, ...picked])];
    return { subnets, passes: passesOf(subnets) };
  }
  if (sampling !== 'all-exits') {
    const subnets = sampleSubnets(latticeOf(dims), g, sampling, rng);
    return { subnets, passes: passesOf(subnets) };
  }
  const { depth: depths, ...rest } = dims;
  const groups = latticeOf(rest);
  const chosen = g >= groups.length ? [...groups].reverse() : rng.choose(groups.length, g).map((i) => groups[i]!);
  const passes = chosen.map((levels) => ({ levels, depths: [...(depths ?? [])] }));
  return { subnets: passes.flatMap((p) => (depths ? p.depths.map((depth) => ({ depth, ...p.levels })) : [p.levels])), passes };
}
