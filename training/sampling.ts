/**
 * Which subnets train on a step (kept for existing imports; the sampling rules live in
 * scheme/sampling.ts). The lattice is ordered smallest first (see latticeOf), so its first
 * entry is the smallest subnet and its last the largest.
 *
 * @example
 * const lattice = latticeOf({ depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] });
 * sampleSubnets(lattice, 4, 'sandwich', new Rng(0)).map(subnetId); // ['d3-w100', 'd1-w25', 'd2-w75', 'd1-w50']
 */
export { passesOf, planStep, sampleSubnets, SAMPLINGS, type Pass, type Sampling, type StepPlan } from './scheme/sampling.js';
