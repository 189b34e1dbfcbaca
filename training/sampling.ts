/**
 * Which subnets train on a step. The lattice is ordered smallest first (see latticeOf), so
 * its first entry is the smallest subnet and its last the largest.
 *
 * @example
 * const lattice = latticeOf({ depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] });
 * sampleSubnets(lattice, 4, 'sandwich', new Rng(0)).map(subnetId); // ['d3-w100', 'd1-w25', 'd2-w75', 'd1-w50']
 */
import type { Sampling } from './config.js';
import type { Rng } from './rng.js';
import type { Levels } from './spec.js';

/** g subnets for one step: distinct, largest first under `sandwich`. If g >= lattice size, all of them. */
export function sampleSubnets(lattice: readonly Levels[], g: number, sampling: Sampling, rng: Rng): Levels[] {
  const n = lattice.length;
  if (g >= n) return [...lattice].reverse();
  if (sampling === 'uniform') return rng.choose(n, g).map((i) => lattice[i]!);
  // sandwich: the two ends, then g - 2 distinct from the middle.
  const middle = rng.choose(n - 2, g - 2).map((i) => lattice[i + 1]!);
  return [lattice[n - 1]!, lattice[0]!, ...middle];
}
