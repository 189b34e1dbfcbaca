/**
 * Reading quality results files written earlier (bench/quality.ts --out): a recorded sorted run
 * (--cnn-sorted) or recorded alone twins (--cnn-twins-from), checked against this run's config
 * and data so that runs which do not belong together are rejected by file and key.
 */
import { readFile } from 'node:fs/promises';
import { readCheckpoint } from '../training/checkpoint.js';
import type { Levels, SubnetSpec } from '../training/spec.js';
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
  const key = differingKey(name, study.config as Record<string, unknown>, config, skip);
  if (key) throw new Error(`${path}: studies.${name}.config.${key.key} is ${JSON.stringify(key.had)}, but this run asks for ${JSON.stringify(key.want)}; pass the flags of the recorded run, or ${drop}`);
  const split = differingSplit(study.data, data);
  if (split) throw new Error(`${path}: studies.${name}.data.${split.split} is ${JSON.stringify(split.had)} examples, but this run loaded ${split.want}; pass the recorded run's --limit-train / --limit-test, or ${drop}`);
  return study;
}

/**
 * The first key of `want` (not in `skip`, not undefined) whose recorded value differs, or
 * undefined. A key added to the trainer after the run was recorded had its default value then.
 */
function differingKey(name: string, recorded: Record<string, unknown>, want: Record<string, unknown>, skip: Set<string>): { key: string; had: unknown; want: unknown } | undefined {
  const had: Record<string, unknown> = { ...(name.startsWith('cnn') ? DEFAULT_CNN_TRAIN : {}), ...recorded };
  for (const [key, value] of Object.entries(want)) {
    if (!skip.has(key) && value !== undefined && JSON.stringify(had[key]) !== JSON.stringify(value)) return { key, had: had[key], want: value };
  }
  return undefined;
}

/** The first split whose recorded example count differs from this run's, or undefined. */
function differingSplit(recorded: unknown, data?: { train: number; test: number }): { split: 'train' | 'test'; had: unknown; want: number } | undefined {
  for (const split of ['train', 'test'] as const) {
    const had = (recorded as Record<string, unknown> | undefined)?.[split];
    if (data && had !== data[split]) return { split, had, want: data[split] };
  }
  return undefined;
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
 *
 * A path ending in `.safetensors` is a checkpoint that `sortednet train` wrote for one subnet
 * trained alone (a twin trained outside this harness, with the same flags): its one subnet's
 * metrics and `training.seconds` count as one alone run, and its training config must equal
 * `config` with `twinShape(levels)` (the twin's channels, blocks, depths and widths) over it.
 */
export async function recordedTwins(paths: string[], name: string, config: Record<string, unknown>, data?: { train: number; test: number }, twinShape?: (levels: Levels) => Record<string, unknown> | null, fullId?: string): Promise<{ twins: Map<string, SubnetSpec['metrics']>; seconds: Study['seconds']; date: string }> {
  const twins = new Map<string, SubnetSpec['metrics']>();
  const from = new Map<string, string>();
  const seconds = { sorted: 0, alone_full: null as number | null, alone_sum: 0, aloneRuns: 0, wall: 0 } satisfies Study['seconds'];
  const dates: string[] = [];
  const add = (path: string, id: string, metrics: SubnetSpec['metrics'], where: string): void => {
    if (from.has(id)) throw new Error(`${path}: ${where} has an alone twin of ${id}, and so has ${from.get(id)}; pass each twin's file once`);
    from.set(id, path);
    twins.set(id, metrics);
  };
  for (const path of paths) {
    if (path.endsWith('.safetensors')) {
      const twin = await checkpointTwin(path, name, config, data, twinShape);
      add(path, twin.id, twin.metrics, 'the checkpoint');
      if (twin.id === fullId) seconds.alone_full = twin.seconds;
      seconds.alone_sum += twin.seconds;
      seconds.aloneRuns += 1;
      seconds.wall += twin.seconds;
      dates.push(twin.date);
      continue;
    }
    const study = await readStudy(path, name, config, SORTED_ONLY, 'train the twins again (drop the file option)', data);
    const mine = study.subnets.filter((r) => r.alone);
    if (!mine.length) throw new Error(`${path}: studies.${name} has no alone twins; pass a file from a run that trained them (--cnn-twins)`);
    for (const r of mine) add(path, r.id, r.alone!, `studies.${name}`);
    if (study.subnets.at(-1)!.alone) seconds.alone_full = study.seconds.alone_full;
    seconds.alone_sum += study.seconds.alone_sum ?? 0;
    seconds.aloneRuns += study.seconds.aloneRuns;
    seconds.wall += study.seconds.wall;
    dates.push(study.date);
  }
  return { twins, seconds, date: dates.join(', ') };
}

/** One twin from a `sortednet train` checkpoint of a single subnet, checked like a results file's twins. */
async function checkpointTwin(path: string, name: string, config: Record<string, unknown>, data: { train: number; test: number } | undefined, twinShape?: (levels: Levels) => Record<string, unknown> | null): Promise<{ id: string; metrics: SubnetSpec['metrics']; seconds: number; date: string }> {
  const { spec } = await readCheckpoint(path);
  const fix = 'pass a checkpoint of one subnet trained alone with the flags of this study, or train the twin again (drop it from the list)';
  const [subnet, ...more] = spec.subnets;
  if (!subnet || more.length) throw new Error(`${path}: subnets has ${spec.subnets.length} entries, not 1; ${fix}`);
  if (Object.keys(subnet.metrics ?? {}).length === 0) throw new Error(`${path}: subnets[0].metrics is empty (the run was not evaluated); ${fix}`);
  const training = spec.training as Record<string, unknown> | undefined;
  if (typeof training?.seconds !== 'number') throw new Error(`${path}: training.seconds is missing; ${fix}`);
  if (name.startsWith('cnn') && spec.arch !== 'cnn') throw new Error(`${path}: arch is ${JSON.stringify(spec.arch)}, but the ${name} study's twins are CNNs; ${fix}`);
  const shape = twinShape?.(subnet.levels);
  if (twinShape && !shape) throw new Error(`${path}: ${subnet.id} has no exact alone twin in this study; ${fix}`);
  const key = differingKey(name, training, { ...config, ...shape }, SORTED_ONLY);
  if (key) throw new Error(`${path}: training.${key.key} is ${JSON.stringify(key.had)}, but this study's ${subnet.id} twin needs ${JSON.stringify(key.want)}; ${fix}`);
  const split = differingSplit(spec.data, data);
  if (split) throw new Error(`${path}: data.${split.split} is ${JSON.stringify(split.had)} examples, but this run loaded ${split.want}; ${fix}`);
  return { id: subnet.id, metrics: subnet.metrics, seconds: training.seconds, date: 'checkpoint, date not recorded' };
}
