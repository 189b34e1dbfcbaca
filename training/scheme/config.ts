/**
 * The training-scheme settings every loop shares (sampling, distillation, weight decay,
 * resume files), their checks, and their CLI flags and help lines.
 *
 * @example
 * checkScheme({ sampling: 'sandwich', groups: 1, distill: 0, ... }, fail); // fail('groups', 'sandwich sampling needs ...')
 * schemeFlags('sortednet train', { distill: '0.5' }); // { distill: 0.5 }
 */
import { choiceFlag, numberFlag, type OptionSpec } from '../cli-args.js';
import { SAMPLINGS, SANDWICH_SAMPLINGS, type Sampling } from './sampling.js';

export interface SchemeConfig {
  /** See `Sampling`: uniform, sandwich or all-exits. */
  sampling: Sampling;
  /** Subnets per step (uniform, sandwich) or width groups per step, each with every depth exit (all-exits). */
  groups: number;
  /**
   * In-place distillation weight α in [0, 1]: every sampled subnet but the full one learns from
   * `(1 - α) · CE(labels) + α · T² · KL(full subnet's softened outputs || its own)`, the full
   * subnet's outputs computed on the same batch and detached. 0 turns it off. @defaultValue 0
   */
  distill: number;
  /** Softmax temperature T of the distillation term. @defaultValue 1 */
  distillTemperature: number;
  /** Decoupled (AdamW) weight decay on weights of rank >= 2, not biases or norms. @defaultValue 0 */
  weightDecay: number;
  /** Write `<out>.resume.safetensors` every this many steps (needs `out`); 0 never. @defaultValue 0 */
  checkpointEvery: number;
  /**
   * Cost-weighted sampling: a randomly drawn subnet is picked with probability proportional to
   * MACs^-costPower (the sandwich ends are not drawn). 0 is uniform, SortedNet's scheme; 1 draws
   * a subnet of half the MACs twice as often, so narrow subnets train more and a step costs
   * less. @defaultValue 0
   */
  costPower: number;
  /**
   * A two-phase draw: from this fraction of the run's steps on, steps draw with `lateSampling`
   * and `lateGroups` instead of `sampling` and `groups` (e.g. SortedNet's uniform draw for most
   * of the run, then the sandwich, which trains the largest subnet every step, while the
   * learning rate decays). 1 keeps one phase. @defaultValue 1
   */
  lateFrom: number;
  /** The late phase's sampling (see `lateFrom`). @defaultValue 'sandwich' */
  lateSampling: Sampling;
  /** The late phase's subnets (or width groups) per step (see `lateFrom`). @defaultValue 3 */
  lateGroups: number;
  /**
   * The largest subnet's loss counts this many times in a step where it trains (the others
   * count once): more of the shared weights' update goes its way without the cost of drawing
   * it more often. 1 is SortedNet's equal weighting. @defaultValue 1
   */
  largestWeight: number;
}

export const DEFAULT_SCHEME: Readonly<Omit<SchemeConfig, 'sampling' | 'groups'>> = Object.freeze({
  distill: 0,
  distillTemperature: 1,
  weightDecay: 0,
  checkpointEvery: 0,
  costPower: 0,
  lateFrom: 1,
  lateSampling: 'sandwich',
  lateGroups: 3,
  largestWeight: 1,
});

/** The first step (0-based) of the late phase of a run of `totalSteps`, or undefined with one phase. */
export function lateStart(c: Pick<SchemeConfig, 'lateFrom'>, totalSteps: number): number | undefined {
  return c.lateFrom < 1 ? Math.ceil(c.lateFrom * totalSteps) : undefined;
}

/** The sampling and subnets per step of step `step` (0-based) of `totalSteps`: the late phase's from `lateFrom` on. */
export function samplingAt(c: Pick<SchemeConfig, 'sampling' | 'groups' | 'lateFrom' | 'lateSampling' | 'lateGroups'>, step: number, totalSteps: number): { sampling: Sampling; groups: number } {
  const start = lateStart(c, totalSteps);
  return start !== undefined && step >= start ? { sampling: c.lateSampling, groups: c.lateGroups } : { sampling: c.sampling, groups: c.groups };
}

/** Config fields a resumed run may change: where it runs and how often it saves. */
export const RUN_ONLY_KEYS = ['backend', 'workers', 'evalEachEpoch', 'checkpointEvery'] as const;

const SANDWICH_NEEDS_TWO = 'sandwich sampling needs 2 or more subnets per step (largest and smallest), or use uniform or all-exits';

/** Check the scheme fields; `fail(field, fix)` throws. */
export function checkScheme(c: SchemeConfig, fail: (field: keyof SchemeConfig, fix: string) => never): void {
  if (!SAMPLINGS.includes(c.sampling)) fail('sampling', `use ${SAMPLINGS.join(', ')}`);
  if (SANDWICH_SAMPLINGS.includes(c.sampling) && c.groups < 2) fail('groups', SANDWICH_NEEDS_TWO);
  if (!(typeof c.distill === 'number' && c.distill >= 0 && c.distill <= 1)) fail('distill', 'use a weight in [0, 1], e.g. 0.5 (0 turns distillation off)');
  if (!(typeof c.distillTemperature === 'number' && c.distillTemperature > 0 && Number.isFinite(c.distillTemperature))) fail('distillTemperature', 'use a positive temperature such as 1 or 2');
  if (!(typeof c.weightDecay === 'number' && c.weightDecay >= 0 && Number.isFinite(c.weightDecay))) fail('weightDecay', 'use a number >= 0, e.g. 0.01 (0 is plain Adam)');
  if (!Number.isInteger(c.checkpointEvery) || c.checkpointEvery < 0) fail('checkpointEvery', 'use a whole number of steps >= 0 (0 writes no resume file)');
  if (!(typeof c.costPower === 'number' && c.costPower >= 0 && c.costPower <= 4)) fail('costPower', 'use a power in [0, 4], e.g. 0.5 (0 draws subnets uniformly)');
  if (!(typeof c.lateFrom === 'number' && c.lateFrom > 0 && c.lateFrom <= 1)) fail('lateFrom', 'use a fraction of the steps in (0, 1], e.g. 0.7 (1 keeps one sampling phase)');
  if (!SAMPLINGS.includes(c.lateSampling)) fail('lateSampling', `use ${SAMPLINGS.join(', ')}`);
  if (!Number.isInteger(c.lateGroups) || c.lateGroups < 1) fail('lateGroups', 'use a whole number >= 1');
  if (SANDWICH_SAMPLINGS.includes(c.lateSampling) && c.lateGroups < 2) fail('lateGroups', SANDWICH_NEEDS_TWO);
  if (!(typeof c.largestWeight === 'number' && c.largestWeight > 0 && c.largestWeight <= 100)) fail('largestWeight', 'use a weight in (0, 100], e.g. 2 (1 weighs every subnet alike)');
}

/** CLI flags of the shared scheme settings (sampling and groups stay with each command). */
export const SCHEME_OPTIONS: OptionSpec = {
  distill: { type: 'string' }, 'distill-temperature': { type: 'string' }, 'weight-decay': { type: 'string' },
  'checkpoint-every': { type: 'string' }, 'cost-power': { type: 'string' }, resume: { type: 'boolean' },
  'late-from': { type: 'string' }, 'late-sampling': { type: 'string' }, 'late-groups': { type: 'string' },
  'largest-weight': { type: 'string' },
};

type SchemeKey = Exclude<keyof SchemeConfig, 'sampling' | 'groups'>;

export const SCHEME_FLAG_OF: Record<SchemeKey, string> = {
  distill: '--distill', distillTemperature: '--distill-temperature', weightDecay: '--weight-decay', checkpointEvery: '--checkpoint-every', costPower: '--cost-power',
  lateFrom: '--late-from', lateSampling: '--late-sampling', lateGroups: '--late-groups', largestWeight: '--largest-weight',
};

/** The scheme settings given on the command line (undefined where absent). */
export function schemeFlags(cmd: string, v: Record<string, unknown>): Partial<Omit<SchemeConfig, 'sampling' | 'groups'>> {
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  return {
    distill: numberFlag(cmd, 'distill', str('distill')),
    distillTemperature: numberFlag(cmd, 'distill-temperature', str('distill-temperature')),
    weightDecay: numberFlag(cmd, 'weight-decay', str('weight-decay')),
    checkpointEvery: numberFlag(cmd, 'checkpoint-every', str('checkpoint-every'), true),
    costPower: numberFlag(cmd, 'cost-power', str('cost-power')),
    lateFrom: numberFlag(cmd, 'late-from', str('late-from')),
    lateSampling: choiceFlag(cmd, 'late-sampling', str('late-sampling'), SAMPLINGS),
    lateGroups: numberFlag(cmd, 'late-groups', str('late-groups'), true),
    largestWeight: numberFlag(cmd, 'largest-weight', str('largest-weight')),
  };
}

/** Help lines for the shared flags: flags from column 2, text from `col`, defaults from `defaultAt`. */
export function schemeHelp(col: number, defaultAt: number, D: Omit<SchemeConfig, 'sampling' | 'groups'> = DEFAULT_SCHEME): string {
  const lines: string[] = ['Training scheme:'];
  const line = (flag: string, text: string, def?: string) => {
    const body = def === undefined ? text : `${text.padEnd(defaultAt - col - 1)} (default ${def})`;
    if (flag.length > col - 3) lines.push(`  ${flag}`, `${' '.repeat(col)}${body}`);
    else lines.push(`  ${flag.padEnd(col - 2)}${body}`);
  };
  line('--distill A', 'in-place distillation weight in [0, 1]: smaller', String(D.distill));
  line('', 'subnets learn (1-A)·CE + A·T²·KL from the full one');
  line('--distill-temperature T', 'softmax temperature of the distillation term', String(D.distillTemperature));
  line('--weight-decay X', 'decoupled (AdamW) decay of weights, not biases', String(D.weightDecay));
  line('--cost-power P', 'draw random subnets with weight MACs^-P: cheap', `${D.costPower}: uniform`);
  line('', 'subnets train more often and steps cost less');
  line('--late-from F', 'from this fraction of the steps on, draw with', `${D.lateFrom}: never`);
  line('', '--late-sampling and --late-groups instead');
  line('--late-sampling MODE', 'the late phase\'s sampling', D.lateSampling);
  line('--late-groups N', 'the late phase\'s subnets per step', String(D.lateGroups));
  line('--largest-weight W', 'the largest subnet\'s loss counts W times when', String(D.largestWeight));
  line('', 'it trains (the others once)');
  line('--checkpoint-every N', 'write <out>.resume.safetensors every N steps', `${D.checkpointEvery}: never`);
  line('--resume', 'continue from <out>.resume.safetensors (same data;');
  line('', 'the run keeps its config: flags given must match it)');
  return lines.join('\n');
}
