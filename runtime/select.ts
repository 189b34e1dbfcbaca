/**
 * Budgets and subnet selection. Estimates come from the manifest (MACs, bytes, activations)
 * and a latency model fitted on the device; selection is a scan for the most accurate subnet
 * within budget, since subnets are sorted.
 *
 * @example
 * selectSubnet(manifest.subnets, { latencyMs: 2, minAccuracy: 0.9 }, { overheadMs: 0.05, msPerMac: 2e-6 });
 * // the most accurate subnet estimated at <= 2 ms with accuracy >= 0.9
 */
import { rejectUnknownKeys, raise } from './errors.js';
import type { LatencyModel } from './latency.js';
import type { SubnetEntry } from './manifest-types.js';

export type { LatencyModel } from './latency.js';

/** Limits for choosing a subnet. Every field is optional; give any combination. */
export interface Budget {
  /** Estimated latency per call at the call's batch size, in milliseconds. @defaultValue no limit */
  latencyMs?: number;
  /** Estimated memory: the subnet's weights plus activations, in MB (2^20 bytes). @defaultValue no limit */
  memoryMB?: number;
  /** Held-out accuracy from the manifest, 0..1. @defaultValue no limit */
  minAccuracy?: number;
  /** Held-out loss from the manifest. @defaultValue no limit */
  maxLoss?: number;
}

export const BUDGET_KEYS = ['latencyMs', 'memoryMB', 'minAccuracy', 'maxLoss'] as const;
type BudgetKey = (typeof BUDGET_KEYS)[number];

/** Used when calibration is off: 50 µs per call plus 1 GMAC/s. */
export const DEFAULT_LATENCY: LatencyModel = { overheadMs: 0.05, msPerMac: 1e-6 };

export interface Estimate {
  latencyMs: number;
  memoryMB: number;
}

/** A subnet's estimates at a batch size (e.g. from a LatencyEstimator). */
export type Estimator = (s: SubnetEntry, batch: number) => Estimate;

export function estimate(s: SubnetEntry, latency: LatencyModel, batch = 1): Estimate {
  return {
    latencyMs: latency.overheadMs + latency.msPerMac * s.macs * batch,
    memoryMB: (s.bytes + s.activations * batch) / 2 ** 20,
  };
}

/** Check a budget's keys and values; `where` is e.g. `load().budget`. */
export function checkBudget(budget: unknown, where: string): Budget {
  const fail = (field: string, found: string, fix: string): never => raise('BAD_OPTION', '<api>', field, found, fix);
  if (typeof budget !== 'object' || budget === null || Array.isArray(budget)) fail(where, JSON.stringify(budget), 'pass an object such as { latencyMs: 5 }');
  rejectUnknownKeys(budget as object, BUDGET_KEYS, 'BAD_OPTION', '<api>', where);
  for (const [k, v] of Object.entries(budget as object)) {
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v >= 0) || v === Infinity) fail(`${where}.${k}`, JSON.stringify(v), 'use a finite number >= 0');
  }
  return budget as Budget;
}

interface Constraint {
  value(s: SubnetEntry, e: Estimate): number | undefined;
  /** True when the budget value is an upper bound. */
  upper: boolean;
  unit: string;
}

const CONSTRAINTS: Record<BudgetKey, Constraint> = {
  latencyMs: { value: (_, e) => e.latencyMs, upper: true, unit: ' ms (estimated)' },
  memoryMB: { value: (_, e) => e.memoryMB, upper: true, unit: ' MB (estimated)' },
  minAccuracy: { value: (s) => s.metrics.accuracy, upper: false, unit: '' },
  maxLoss: { value: (s) => s.metrics.loss, upper: true, unit: '' },
};

const fmt = (x: number): string => String(Number(x.toPrecision(3)));

/** Round to 3 significant digits, outward, so the suggested value really admits the subnet. */
function outward(x: number, up: boolean): string {
  if (x === 0) return '0';
  const p = 10 ** (Math.floor(Math.log10(Math.abs(x))) - 2);
  return String(Number(((up ? Math.ceil(x / p) : Math.floor(x / p)) * p).toPrecision(3)));
}

/** Selection score: accuracy, else lower loss, else lower perplexity, else more MACs. */
function scorer(subnets: readonly SubnetEntry[]): (s: SubnetEntry) => number {
  if (subnets.some((s) => s.metrics.accuracy !== undefined)) return (s) => s.metrics.accuracy ?? -Infinity;
  if (subnets.some((s) => s.metrics.loss !== undefined)) return (s) => -(s.metrics.loss ?? Infinity);
  if (subnets.some((s) => s.metrics.perplexity !== undefined)) return (s) => -(s.metrics.perplexity ?? Infinity);
  return (s) => s.macs;
}

/**
 * The most accurate subnet within `budget` (ties: fewer MACs). Throws IMPOSSIBLE_BUDGET naming
 * the budget field, the smallest achievable value and the fix when none fits.
 */
export function selectSubnet(subnets: readonly SubnetEntry[], budget: Budget, latency: LatencyModel | Estimator, batch = 1, file = '<api>'): SubnetEntry {
  return judge(subnets, budget, latency, batch, file).pick();
}

/** Per subnet: its estimate, whether it fits, and (built on first read) the budget fields it fails. */
export interface Verdict {
  subnet: SubnetEntry;
  estimate: Estimate;
  fits: boolean;
  readonly fails: string[];
}

/**
 * Evaluate every subnet against the budget; `pick()` selects or throws IMPOSSIBLE_BUDGET. A call
 * with a per-call budget re-chooses through here, so `pick()` only reads the estimates: the
 * verdicts (with their messages) are built when `verdicts` is read, by explain().
 */
export function judge(subnets: readonly SubnetEntry[], budget: Budget, latency: LatencyModel | Estimator, batch = 1, file = '<api>'): { readonly verdicts: Verdict[]; pick(): SubnetEntry } {
  const keys = BUDGET_KEYS.filter((k) => budget[k] !== undefined);
  const est = subnets.map((s) => (typeof latency === 'function' ? latency(s, batch) : estimate(s, latency, batch)));
  /** Subnet `i`'s value for budget field `k`: its estimate or its metric. */
  const value = (i: number, k: BudgetKey): number | undefined => CONSTRAINTS[k].value(subnets[i]!, est[i]!);
  for (const k of keys) {
    if (subnets.every((_, i) => value(i, k) === undefined)) {
      raise('BAD_OPTION', file, `budget.${k}`, `${budget[k]}, but the manifest has no ${k === 'minAccuracy' ? 'accuracy' : 'loss'} metrics`, `drop ${k}, or re-pack a checkpoint that carries held-out metrics`);
    }
  }
  const meets = (i: number, k: BudgetKey): boolean => {
    const v = value(i, k);
    return v !== undefined && (CONSTRAINTS[k].upper ? v <= budget[k]! : v >= budget[k]!);
  };
  const fits = (i: number): boolean => keys.every((k) => meets(i, k));
  return {
    get verdicts() {
      return subnets.map((s, i): Verdict => ({
        subnet: s,
        estimate: est[i]!,
        fits: fits(i),
        fails: keys.filter((k) => !meets(i, k)).map((k) => {
          const v = value(i, k);
          return v === undefined ? `no ${k === 'minAccuracy' ? 'accuracy' : 'loss'} metric` : `${k}: ${fmt(v)}${CONSTRAINTS[k].unit} ${CONSTRAINTS[k].upper ? '>' : '<'} ${budget[k]}`;
        }),
      }));
    },
    pick(): SubnetEntry {
      const by = scorer(subnets);
      const score = (i: number): number => by(subnets[i]!);
      const all = subnets.map((_, i) => i);
      const ok = all.filter(fits);
      if (ok.length > 0) return subnets[ok.reduce((b, i) => (score(i) > score(b) || (score(i) === score(b) && subnets[i]!.macs < subnets[b]!.macs) ? i : b))]!;

      // For each field, the least it would have to move for some subnet to meet the other fields.
      const relax = keys.flatMap((k) => {
        const rest = all.filter((i) => keys.every((o) => o === k || meets(i, o)) && value(i, k) !== undefined);
        if (rest.length === 0) return [];
        // The subnet nearest the bound: the lowest value for an upper bound, the highest for a lower one.
        const sign = CONSTRAINTS[k].upper ? 1 : -1;
        const i = rest.reduce((b, j) => (sign * value(j, k)! < sign * value(b, k)! ? j : b));
        return [{ k, s: subnets[i]!, v: value(i, k)! }];
      });
      const asked = keys.map((k) => `${k} ${budget[k]}`).join(' and ');
      const field = keys.length === 1 ? `budget.${keys[0]}` : relax.length === 1 ? `budget.${relax[0]!.k}` : 'budget';
      const found = relax.length === 0
        ? `no subnet meets ${asked}, and relaxing any one field is not enough`
        : `no subnet meets ${asked}; the closest is ${relax.map((r) => `${r.s.id} at ${r.k} ${fmt(r.v)}${CONSTRAINTS[r.k].unit}`).join(', or ')}`;
      const fix = relax.length === 0
        ? 'relax several budget fields; see model.subnets for each subnet\'s estimates and metrics'
        : relax.map((r) => `${CONSTRAINTS[r.k].upper ? 'raise' : 'lower'} ${r.k} to ${outward(r.v, CONSTRAINTS[r.k].upper)}`).join(', or ');
      return raise('IMPOSSIBLE_BUDGET', file, field, found, fix);
    },
  };
}
