/**
 * Reading quality results files written earlier (bench/quality.ts --out): a recorded sorted run
 * (--cnn-sorted) or recorded alone twins (--cnn-twins-from), checked against this run's config
 * and data so that runs which do not belong together are rejected by file and key.
 */
import { readFile } from 'node:fs/promises';
import type { SubnetSpec } from '../training/spec.js';
import { DEFAULT_CNN_TRAIN, type CnnTrainConfig } from '../training/train-cnn.js';
import { TIME_TARGET, type Run, type Study } from './quality-types.js';

/** Keys of a sorted run's config that only the sorted run uses: its twins train one subnet, undistilled. */
const SORTED_ONLY = new Set<string>(['distill', 'sampling', 'groups', 'costPower', 'lateFrom', 'lateSampling', 'lateGroups', 'largestWeight'] satisfies (keyof CnnTrainConfig)[]);

/**
 * Study `name` of a results file. Throws, naming the file and the key, where the recorded config
 * differs from `config` on a key not in `skip` (the runs would not belong together).
 */
async function readStudy(path: string, name: string, config: Record<string, unknown>, skip: Set<string>, drop: string, data?: { train: number; test: number }): Promise<Study> {
  let study: Study | undefined;
  try {
    study = (JSON.parse(await readFile(path, 'utf8')) as { studies?: Record<string, Study> }).studies?.[name];
  } catch (err) {
    throw new Error(`${path}: cannot read a quality results file (${(err as Error).message}); pass a file written by bench/quality.ts --out`);
  }
  if (!study?.subnets || !study.config || !study.seconds) throw new Error(`${path}: no "${name}" study in it (with subnets, config and seconds); pass a file from a --study ${name} run`);
  // A key added to the trainer after the file was written had its default value then.
  const recorded = { ...(name.startsWith('cnn') ? DEFAULT_CNN_TRAIN : {}), ...study.config } as Record<string, unknown>;
  for (const [key, want] of Object.entries(config)) {
    const had = recorded[key];
    if (!skip.has(key) && want !== undefined && JSON.stringify(had) !== JSON.stringify(want)) {
      throw new Error(`${path}: studies.${name}.config.${key} is ${JSON.stringify(had)}, but this run asks for ${JSON.stringify(want)}; pass the flags of the recorded run, or ${drop}`);
    }
  }
  for (const split of ['train', 'test'] as const) {
    const had = (study.data as Record<string, unknown> | undefined)?.[split];
    if (data && had !== data[split]) throw new Error(`${path}: studies.${name}.data.${split} is ${JSON.stringify(had)} examples, but this run loaded ${data[split]}; pass the recorded run's --limit-train / --limit-test, or ${drop}`);
  }
  return study;
}

/**
 * The sorted run a results file recorded for study `name`, as a Run. Throws, naming the file and
 * the key, where the recorded config differs from `config` (the twins would not be its twins).
 */
export async function recordedRun(path: string, name: string, config: Record<string, unknown>, data?: { train: number; test: number }): Promise<Run & { date: string; fullTwinSeconds: number | null }> {
  const study = await readStudy(path, name, config, new Set(), 'train the sorted run again (drop the file option)', data);
  // The file judged its time target only where its full subnet's twin trained in the same process, right after the sorted run.
  const judged = study.targets?.some((t) => t.name.startsWith(TIME_TARGET) && typeof t.met === 'boolean') ?? false;
  const fullTwinSeconds = judged && study.subnets.at(-1)?.alone && typeof study.seconds.alone_full === 'number' ? study.seconds.alone_full : null;
  return {
    fullTwinSeconds,
    subnets: study.subnets.map((r) => ({ id: r.id, levels: r.levels, params: r.params, macs: r.macs, metrics: r.sorted })),
    seconds: study.seconds.sorted,
    config: study.config as Record<string, unknown>,
    data: study.data as Record<string, unknown>,
    backend: study.machine?.backend ?? 'unknown',
    date: study.date,
  };
}

/**
 * The alone twins one or more results files recorded for study `name`: each twin's metrics, and
 * the recorded alone seconds (alone_full from the file holding the full subnet's twin, alone_sum
 * and aloneRuns summed over the files). Each config must match `config` on every key but the
 * sorted-only ones (distillation, sampling, subnets per step, cost power), which twins never use.
 * A twin recorded in two files is rejected, naming both.
 */
export async function recordedTwins(paths: string[], name: string, config: Record<string, unknown>, data?: { train: number; test: number }): Promise<{ twins: Map<string, SubnetSpec['metrics']>; seconds: Study['seconds']; date: string }> {
  const twins = new Map<string, SubnetSpec['metrics']>();
  const from = new Map<string, string>();
  const seconds = { sorted: 0, alone_full: null as number | null, alone_sum: 0, aloneRuns: 0, wall: 0 } satisfies Study['seconds'];
  const dates: string[] = [];
  for (const path of paths) {
    const study = await readStudy(path, name, config, SORTED_ONLY, 'train the twins again (drop the file option)', data);
    const mine = study.subnets.filter((r) => r.alone);
    if (!mine.length) throw new Error(`${path}: studies.${name} has no alone twins; pass a file from a run that trained them (--cnn-twins)`);
    for (const r of mine) {
      if (from.has(r.id)) throw new Error(`${path}: studies.${name} has an alone twin of ${r.id}, and so has ${from.get(r.id)}; pass each twin's file once`);
      from.set(r.id, path);
      twins.set(r.id, r.alone!);
    }
    if (study.subnets.at(-1)!.alone) seconds.alone_full = study.seconds.alone_full;
    seconds.alone_sum += study.seconds.alone_sum ?? 0;
    seconds.aloneRuns += study.seconds.aloneRuns;
    seconds.wall += study.seconds.wall;
    dates.push(study.date);
  }
  return { twins, seconds, date: dates.join(', ') };
}
