/**
 * Result types of the quality study (bench/quality.ts), shared by the runners and the report.
 * One `Study` per name in `bench/results/quality.json`'s `studies`.
 *
 * @example
 * const row: SubnetRow = { id: 'd2-w50', levels: { depth: 2, width: 0.5 }, macs: 268800, params: 269322,
 *   sorted: { accuracy: 0.881 }, alone: { accuracy: 0.884 }, ratio: 0.9966 };
 */
import type { Levels, SubnetMetrics, SubnetSpec } from '../training/spec.js';

/** `mlp10` reuses a 10-epoch sorted checkpoint; it runs only when named (not in `all`). */
export type StudyName = 'mlp' | 'mlp10' | 'cnn' | 'cnn160' | 'lm';
export const STUDY_NAMES: readonly StudyName[] = ['mlp', 'mlp10', 'cnn', 'cnn160', 'lm'];

/** What is compared: accuracy (higher is better) or perplexity (lower is better). */
export type Metric = 'accuracy' | 'perplexity';

export interface SubnetRow {
  id: string;
  levels: Levels;
  macs: number;
  params: number;
  /** The subnet of the one sorted run. */
  sorted: SubnetMetrics;
  /** Its twin trained alone (same shape, steps and optimizer); null where no twin was run. */
  alone: SubnetMetrics | null;
  /** sorted / alone on the study's metric; null without a twin. */
  ratio: number | null;
}

export interface Target {
  /** What the issue asks, in words. */
  name: string;
  /** The bound, e.g. 0.99 for "≥ 99 %" or 1.05 for "≤ 1.05x". */
  bound: number;
  /** 'min': value must be >= bound; 'max': value must be <= bound. */
  kind: 'min' | 'max';
  /** The measured value (the worst case where the target is over many subnets); null if not measured. */
  value: number | null;
  /** Which subnet or run gave `value`. */
  where?: string;
  met: boolean | null;
}

export interface Study {
  name: StudyName;
  date: string;
  metric: Metric;
  /** The sorted run's training config as run (from its checkpoint). */
  config: Record<string, unknown>;
  /** How each alone twin is built from the sorted config. */
  twins: string;
  epochs?: number;
  steps?: number;
  data: Record<string, unknown>;
  subnets: SubnetRow[];
  /**
   * Training seconds (no final evaluation), measured in this one process, one run at a time:
   * the sorted run, one plain run of the full model (the full subnet's alone twin) and the sum
   * over every alone twin that ran (`aloneRuns` of them).
   */
  seconds: { sorted: number; alone_full: number | null; alone_sum: number | null; aloneRuns: number; wall: number };
  ratios: { sortedOverAloneFull: number | null; sortedOverAloneSum: number | null };
  targets: Target[];
  machine: { cpus: number; loadavgBefore: number[]; loadavgAfter: number[]; node: string; backend: string };
  notes: string[];
}

export interface QualityFile {
  name: 'quality';
  updated: string;
  studies: Partial<Record<StudyName, Study>>;
}

/** A target checked against a value. */
export function target(name: string, kind: 'min' | 'max', bound: number, value: number | null, where?: string): Target {
  const met = value === null || !Number.isFinite(value) ? null : kind === 'min' ? value >= bound : value <= bound;
  return { name, bound, kind, value, ...(where ? { where } : {}), met };
}

/** sorted / alone on `metric`, or null. */
export function ratioOf(metric: Metric, sorted: SubnetMetrics, alone: SubnetMetrics | null): number | null {
  if (!alone) return null;
  const a = alone[metric];
  const s = sorted[metric];
  return a === undefined || s === undefined || a === 0 ? null : s / a;
}

/** One training run as a study sees it. */
export interface Run {
  subnets: SubnetSpec[];
  /** Training seconds as the loop measured them (no final calibration or evaluation). */
  seconds: number;
  config: Record<string, unknown>;
  data: Record<string, unknown>;
  backend: string;
}

/** The time target's name; a results file judged it only where the full twin trained beside the sorted run. */
export const TIME_TARGET = 'sorted training time ≤ 1.3x one plain run of the full model';
