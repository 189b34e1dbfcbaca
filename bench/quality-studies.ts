/**
 * The runs of the quality study: for each architecture, one sorted run, then twins of its
 * subnets trained alone (a sorted run whose lattice is that one shape), one after another in
 * this process so their training seconds are measured side by side.
 *
 * @example
 * const data = await loadFashionMnist({ limitTrain: 512 });
 * const study = await runMlpStudy({ data, hidden: 64, depths: [1, 2], widths: [0.5, 1], epochs: 1, seed: 0, twins: 'all' });
 * study.subnets.map((s) => `${s.id} ${s.ratio?.toFixed(3)}`); // ['d1-w50 0.991', ..., 'd2-w100 1.004']
 */
import { cpus, loadavg } from 'node:os';
import type { Dataset } from '../training/data/fashion-mnist.js';
import type { Sampling } from '../training/config.js';
import { readCheckpoint } from '../training/checkpoint.js';
import { evaluateCnn } from '../training/cnn-eval.js';
import { train } from '../training/loop.js';
import { SortedCnn } from '../training/models/cnn.js';
import type { TrainEvent } from '../training/progress.js';
import { latticeOf, subnetId, widthUnits, type Levels, type SubnetSpec } from '../training/spec.js';
import { DEFAULT_CNN_TRAIN, trainCnn, type CnnTrainConfig } from '../training/train-cnn.js';
import { trainGpt, type GptTrainConfig } from '../training/train-gpt.js';
import { recordedRun, recordedTwins } from './quality-recorded.js';
import { ratioOf, target, TIME_TARGET, type Metric, type Run, type Study, type StudyName, type SubnetRow, type Target } from './quality-types.js';

/** Which subnets get an alone twin: every one, or these ids. */
export type Twins = 'all' | string[];

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Log lines for a run: start, every 30 s, each epoch, done. */
export function progress(label: string): (e: TrainEvent) => void {
  let last = performance.now();
  return (e) => {
    const now = performance.now();
    if (e.type === 'start') console.log(`[${label}] ${e.backend}: ${e.train} train, ${e.subnets} subnets, ${e.totalSteps} steps`);
    if (e.type === 'step' && now - last > 30_000) {
      last = now;
      console.log(`[${label}] step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(4)} ${e.stepsPerSec.toFixed(2)} steps/s eta ${Math.round(e.etaSec)} s`);
    }
    if (e.type === 'epoch') console.log(`[${label}] epoch ${e.epoch}/${e.epochs} train loss ${e.trainLoss.toFixed(4)}`);
    if (e.type === 'done') console.log(`[${label}] trained in ${e.seconds.toFixed(1)} s`);
  };
}

/** The twins to run for `lattice`, the full network first (it is also the plain full run). */
function twinOrder(lattice: Levels[], twins: Twins): Levels[] {
  const chosen = twins === 'all' ? lattice : lattice.filter((l) => twins.includes(subnetId(l)));
  if (twins !== 'all') {
    const unknown = twins.filter((id) => !lattice.some((l) => subnetId(l) === id));
    if (unknown.length) throw new Error(`--twins: no subnet ${unknown.join(', ')} in this lattice (ids: ${lattice.map(subnetId).join(', ')})`);
  }
  const full = lattice.at(-1)!;
  return [...chosen.filter((l) => l === full), ...chosen.filter((l) => l !== full)];
}

interface CompareArgs {
  name: StudyName;
  metric: Metric;
  twinsText: string;
  sorted: Run;
  /** Runs one twin; returns null (with a note) where no exact twin exists. */
  twin: (levels: Levels) => Promise<Run | null>;
  lattice: Levels[];
  twins: Twins;
  extraTargets?: (rows: SubnetRow[]) => Target[];
  notes?: string[];
  epochs?: number;
  steps?: number;
  /** False when the sorted run's seconds come from elsewhere: the time target is then not judged. */
  sideBySide?: boolean;
  /** The twins' seconds as a results file recorded them (the twins did not train here). */
  recordedAlone?: Study['seconds'];
  /**
   * Seconds of the full subnet's twin trained side by side with the recorded sorted run (same
   * process, same load): the time ratio uses it, whatever the other twins' source.
   */
  timedFull?: number;
}

/** Runs the twins, checks each has the shape of its sorted subnet, and builds the study. */
async function compare(a: CompareArgs, t: { wall0: number; before: number[] }): Promise<Study> {
  const notes = [...(a.notes ?? [])];
  const alone = new Map<string, { metrics: SubnetSpec['metrics']; seconds: number }>();
  const full = subnetId(a.lattice.at(-1)!);
  for (const levels of twinOrder(a.lattice, a.twins)) {
    const id = subnetId(levels);
    const run = await a.twin(levels);
    if (!run) continue;
    const mine = a.sorted.subnets.find((s) => s.id === id)!;
    const twin = run.subnets[0]!;
    if (twin.params !== mine.params || twin.macs !== mine.macs) {
      throw new Error(`${a.name} ${id}: the alone twin has ${twin.params} params / ${twin.macs} MACs, the sorted subnet ${mine.params} / ${mine.macs}; the twin is not the same shape`);
    }
    alone.set(id, { metrics: twin.metrics, seconds: run.seconds });
    console.log(`[${a.name}] ${id}: sorted ${fmt(a.metric, mine.metrics)} alone ${fmt(a.metric, twin.metrics)} (same shape: ${twin.params} params, ${twin.macs} MACs)`);
  }
  const rows: SubnetRow[] = a.sorted.subnets.map((s) => {
    const twin = alone.get(s.id)?.metrics ?? null;
    return { id: s.id, levels: s.levels, macs: s.macs, params: s.params, sorted: s.metrics, alone: twin, ratio: ratioOf(a.metric, s.metrics, twin) };
  });
  const aloneFull = a.timedFull ?? (a.recordedAlone ? a.recordedAlone.alone_full : alone.get(full)?.seconds ?? null);
  const aloneSum = a.recordedAlone ? a.recordedAlone.alone_sum : alone.size ? [...alone.values()].reduce((n, x) => n + x.seconds, 0) : null;
  if (alone.size && alone.size < rows.length) notes.push(`alone twins for ${alone.size} of ${rows.length} subnets (${[...alone.keys()].join(', ')}); alone is null for the rest and alone_sum covers ${a.recordedAlone ? `the ${a.recordedAlone.aloneRuns} recorded runs` : alone.size === 1 ? 'that run' : `these ${alone.size} runs`} only`);
  const withTwin = rows.filter((r) => r.ratio !== null);
  const worst = a.metric === 'accuracy'
    ? withTwin.reduce<SubnetRow | undefined>((w, r) => (!w || r.ratio! < w.ratio! ? r : w), undefined)
    : withTwin.reduce<SubnetRow | undefined>((w, r) => (!w || r.ratio! > w.ratio! ? r : w), undefined);
  const sortedOverAloneFull = aloneFull ? a.sorted.seconds / aloneFull : null;
  const targets: Target[] = [];
  if (a.metric === 'accuracy') targets.push(target('every subnet ≥ 99% of its alone twin\'s accuracy (worst ratio)', 'min', 0.99, worst?.ratio ?? null, worst?.id));
  else targets.push(target('every depth subnet\'s perplexity ≤ 1.05x its alone twin\'s (worst ratio)', 'max', 1.05, worst?.ratio ?? null, worst?.id));
  targets.push(...(a.extraTargets?.(rows) ?? []));
  const timeTarget = target(TIME_TARGET, 'max', 1.3, sortedOverAloneFull, full);
  targets.push(a.sideBySide === false ? { ...timeTarget, name: `${timeTarget.name} (not judged: the sorted seconds were not measured side by side)`, met: null } : timeTarget);
  return {
    name: a.name,
    date: new Date().toISOString(),
    metric: a.metric,
    config: a.sorted.config,
    twins: a.twinsText,
    ...(a.epochs !== undefined ? { epochs: a.epochs } : {}),
    ...(a.steps !== undefined ? { steps: a.steps } : {}),
    data: a.sorted.data,
    subnets: rows,
    seconds: { sorted: round(a.sorted.seconds), alone_full: aloneFull === null ? null : round(aloneFull), alone_sum: aloneSum === null ? null : round(aloneSum), aloneRuns: a.recordedAlone?.aloneRuns ?? alone.size, wall: round((performance.now() - t.wall0) / 1000) },
    ratios: { sortedOverAloneFull: sortedOverAloneFull === null ? null : round(sortedOverAloneFull, 3), sortedOverAloneSum: aloneSum ? round(a.sorted.seconds / aloneSum, 3) : null },
    targets,
    machine: { cpus: cpus().length, loadavgBefore: t.before, loadavgAfter: loadavg().map((x) => round(x, 2)), node: process.version, backend: a.sorted.backend },
    notes,
  };
}

function fmt(metric: Metric, m: SubnetSpec['metrics']): string {
  const v = m[metric];
  if (v === undefined) return '-';
  return metric === 'accuracy' ? `${(v * 100).toFixed(2)}%` : v.toFixed(2);
}

// ---- MLP ----

export interface MlpStudyOptions {
  name: 'mlp' | 'mlp10';
  data: Dataset;
  hidden: number;
  depths: number[];
  widths: number[];
  epochs: number;
  seed: number;
  twins: Twins;
  /**
   * Take the sorted side from this checkpoint (its subnets' test metrics and its training
   * seconds) instead of training it; hidden, depths, widths, epochs and seed then come from it.
   */
  checkpoint?: string;
  /** The sorted run's sampling, subnets per step and distillation weight (twins train one subnet, undistilled). @defaultValue train()'s */
  scheme?: { sampling?: Sampling; groups?: number; distill?: number; costPower?: number; lateFrom?: number; lateSampling?: Sampling; lateGroups?: number; largestWeight?: number };
}

async function mlpRun(o: MlpStudyOptions, hidden: number, depths: number[], widths: number[], label: string, scheme: MlpStudyOptions['scheme'] = {}): Promise<Run> {
  const r = await train({ data: o.data, hidden, depths, widths, epochs: o.epochs, seed: o.seed, evalEachEpoch: false, backend: 'wasm', onProgress: progress(label), ...scheme });
  const { training, data } = r.checkpoint.spec;
  return { subnets: r.subnets, seconds: training.seconds as number, config: training, data: data ?? {}, backend: r.backend };
}

/** The sorted run recorded in an MLP checkpoint, and the options its twins must match. */
async function mlpFromCheckpoint(o: MlpStudyOptions, path: string): Promise<{ run: Run; o: MlpStudyOptions }> {
  const { spec } = await readCheckpoint(path);
  const t = spec.training as Record<string, unknown> & { hidden: number; depths: number[]; widths: number[]; epochs: number; seed: number; seconds: number; backendUsed: string };
  if (spec.arch !== 'mlp') throw new Error(`${path}: sortednet.arch is "${spec.arch}"; the mlp study needs an MLP checkpoint`);
  if (spec.data?.test !== o.data.test.n || spec.data?.train !== o.data.train.n) {
    throw new Error(`${path}: trained on ${spec.data?.train} / evaluated on ${spec.data?.test} examples, but this study loaded ${o.data.train.n} / ${o.data.test.n}; drop --limit-train / --limit-test`);
  }
  const run = { subnets: spec.subnets, seconds: t.seconds, config: t, data: spec.data ?? {}, backend: t.backendUsed };
  return { run, o: { ...o, hidden: t.hidden, depths: t.depths, widths: t.widths, epochs: t.epochs, seed: t.seed } };
}

export async function runMlpStudy(options: MlpStudyOptions): Promise<Study> {
  const t = { wall0: performance.now(), before: loadavg().map((x) => round(x, 2)) };
  const notes: string[] = [];
  let o = options;
  let sorted: Run;
  if (options.checkpoint) {
    ({ run: sorted, o } = await mlpFromCheckpoint(options, options.checkpoint));
    notes.push(`the sorted side is the checkpoint ${options.checkpoint} (seed ${o.seed}, evalEachEpoch ${String(sorted.config.evalEachEpoch)}), trained earlier on this machine: its seconds were not measured side by side with the twins`);
  } else {
    sorted = await mlpRun(o, o.hidden, o.depths, o.widths, `${o.name} sorted`, o.scheme);
  }
  return compare({
    name: o.name, metric: 'accuracy', sorted, lattice: latticeOf({ depth: o.depths, width: o.widths }), twins: o.twins, epochs: o.epochs, notes, sideBySide: !options.checkpoint,
    twinsText: 'train() with hidden = round(w·hidden), depths [d], widths [1]; everything else (epochs, batch, Adam, lr schedule, seed) as the sorted run',
    twin: (l) => mlpRun(o, widthUnits(l.width!, o.hidden), [l.depth!], [1], `${o.name} alone ${subnetId(l)}`),
  }, t);
}

// ---- CNN ----

export interface CnnStudyOptions {
  name: 'cnn' | 'cnn160';
  data: Dataset;
  config: Partial<CnnTrainConfig>;
  twins: Twins;
  /** Test images per forward pass when evaluating (every width of a pass is held at once). */
  evalBatch: number;
  /**
   * A results file whose study `name` is the sorted run to compare against: it is read, not
   * trained again, and only the twins train. Its config must match `config`.
   */
  sortedFrom?: string;
  /**
   * Results files whose study `name` holds the alone twins to compare against: they are read,
   * not trained again, and only the sorted run trains (nothing trains when `sortedFrom` is given
   * too: the study is composed from the files). Their configs must match `config` but for the
   * sorted-only keys (distill, sampling, groups, costPower, lateFrom, lateSampling, lateGroups, largestWeight).
   */
  twinsFrom?: string[];
  /**
   * Judge the time target on recorded seconds (with `sortedFrom` / `twinsFrom`): only for a full
   * twin that trained at the same time as the sorted run, on this machine, one process per core,
   * so that both saw the same conditions. The study's notes say so.
   */
  judgeRecordedTime?: boolean;
}

/**
 * trainCnn evaluates all widths of a test batch of 500 inside one tidy; with dozens of widths
 * that outgrows the wasm heap ("memory access out of bounds"), so the loop gets an empty test
 * split and the study evaluates the calibrated weights itself, `evalBatch` images at a time.
 */
async function cnnRun(o: CnnStudyOptions, config: Partial<CnnTrainConfig>, label: string): Promise<Run> {
  const test = o.data.test;
  const noTest = { ...test, images: new Float32Array(0), labels: new Uint8Array(0), n: 0 };
  const r = await trainCnn({ ...o.config, ...config, data: { ...o.data, test: noTest }, evalEachEpoch: false, backend: 'wasm', onProgress: progress(label) });
  const { spec, tensors } = r.checkpoint;
  const model = SortedCnn.fromTensors(tensors, spec.config as Record<string, unknown>);
  try {
    const subnets = evaluateCnn(model, test, spec.dims, { batch: o.evalBatch });
    return { subnets, seconds: r.seconds.train, config: spec.training, data: { ...spec.data, test: test.n }, backend: r.backend };
  } finally {
    model.dispose();
  }
}

/** The CNN twin's config: round(w·C) channels, d blocks; null if that is not exactly the subnet's channels at every stage. */
export function cnnTwinConfig(c: Pick<CnnTrainConfig, 'channels' | 'stages'>, levels: Levels): Partial<CnnTrainConfig> | null {
  const channels = widthUnits(levels.width!, c.channels);
  for (let s = 0; s < c.stages; s++) if (channels * 2 ** s !== widthUnits(levels.width!, c.channels * 2 ** s)) return null;
  return { channels, blocks: levels.depth!, depths: [levels.depth!], widths: [1] };
}

export async function runCnnStudy(o: CnnStudyOptions): Promise<Study> {
  const t = { wall0: performance.now(), before: loadavg().map((x) => round(x, 2)) };
  const loaded = { train: o.data.train.n, test: o.data.test.n };
  const recorded = o.sortedFrom === undefined ? undefined : await recordedRun(o.sortedFrom, o.name, o.config, loaded);
  const twinsFrom = o.twinsFrom === undefined ? undefined : await recordedTwins(o.twinsFrom, o.name, o.config as Record<string, unknown>, loaded, (l) => cnnTwinConfig({ ...DEFAULT_CNN_TRAIN, ...o.config }, l), subnetId({ depth: Math.max(...(o.config.depths ?? DEFAULT_CNN_TRAIN.depths)), width: 1 }));
  const twinFiles = o.twinsFrom?.join(', ');
  const sorted = recorded ?? await cnnRun(o, {}, `${o.name} sorted`);
  const cfg = sorted.config as unknown as CnnTrainConfig;
  const lattice = latticeOf({ depth: cfg.depths, width: cfg.widths });
  const notes: string[] = [];
  if (recorded) notes.push(`the sorted run is the one ${o.sortedFrom} recorded (${recorded.date}), not trained again${twinsFrom ? '' : '; the twins trained in this run'}`);
  if (twinsFrom) notes.push(`the alone twins are the ones ${twinFiles} recorded (${twinsFrom.date}), not trained again, with their seconds; ${recorded ? 'nothing trained in this run' : 'only the sorted run trained in this run'}`);
  const timedFull = recorded?.fullTwinSeconds ?? undefined;
  if (timedFull !== undefined) notes.push(`time: alone_full (${timedFull} s) is the full subnet's twin that ${o.sortedFrom} trained in the same process right after its sorted run, so the time target is judged on that pair`);
  if (o.judgeRecordedTime && timedFull === undefined && (recorded || twinsFrom)) notes.push('time: judged on the recorded seconds (--cnn-judge-recorded-time): the full subnet\'s twin trained at the same time as the sorted run, on this machine, one process per core');
  const full = sorted.subnets.at(-1)!;
  const smallest = sorted.subnets[0]!;
  return compare({
    name: o.name, metric: 'accuracy', sorted, lattice, twins: o.twins, epochs: cfg.epochs, notes, sideBySide: timedFull !== undefined || (!recorded && !twinsFrom) || o.judgeRecordedTime === true, recordedAlone: twinsFrom?.seconds, timedFull,
    twinsText: 'trainCnn() with channels = round(w·channels), blocks = depths = [d], widths [1]; stages, stem, epochs, batch, Adam, lr schedule, BN calibration and seed as the sorted run',
    twin: async (l) => {
      if (twinsFrom) {
        const metrics = twinsFrom.twins.get(subnetId(l));
        const mine = sorted.subnets.find((s) => s.id === subnetId(l))!;
        // The recorded run checked the twin's shape against the same lattice; the config check above keeps it the same.
        if (!metrics) notes.push(`${subnetId(l)}: no alone twin recorded in ${twinFiles}; skipped`);
        return metrics ? { ...sorted, subnets: [{ ...mine, metrics }], seconds: 0 } : null;
      }
      const twin = cnnTwinConfig(cfg, l);
      if (!twin) {
        notes.push(`${subnetId(l)}: no exact alone twin (round(w·C)·2^s differs from round(w·C·2^s) at some stage); skipped`);
        return null;
      }
      return cnnRun(o, { ...twin, distill: 0, largestWeight: 1 }, `${o.name} alone ${subnetId(l)}`); // one subnet: nothing to distill into or weigh against
    },
    extraTargets: () => [
      ...(o.name === 'cnn' ? [target('full CNN ≥ 92.5% test accuracy on Fashion-MNIST', 'min', 0.925, full.metrics.accuracy ?? null, full.id)] : []),
      ...(o.name === 'cnn160' ? [target(`smallest subnet ≥ 96% of the full subnet's accuracy (${sorted.subnets.length} subnets)`, 'min', 0.96, (smallest.metrics.accuracy ?? NaN) / (full.metrics.accuracy ?? NaN), smallest.id)] : []),
    ],
  }, t);
}

// ---- LM ----

export interface LmStudyOptions {
  data: { train: string[]; test: string[]; name: string; source: string };
  config: Partial<GptTrainConfig>;
  twins: Twins;
}

async function lmRun(o: LmStudyOptions, config: Partial<GptTrainConfig>, label: string): Promise<Run> {
  const r = await trainGpt({ ...o.config, ...config, data: o.data, backend: 'wasm', onProgress: progress(label) });
  const { training, data } = r.checkpoint.spec;
  return { subnets: r.subnets, seconds: training.seconds as number, config: training, data: data ?? {}, backend: r.backend };
}

export async function runLmStudy(o: LmStudyOptions): Promise<Study> {
  const t = { wall0: performance.now(), before: loadavg().map((x) => round(x, 2)) };
  const layers = o.config.layers!;
  const heads = o.config.heads!;
  const depths = Array.from({ length: layers }, (_, i) => i + 1);
  // Depth is the only nested dim, so every step trains every depth's exit (the all-exits loss).
  const nesting = { depths, headLevels: [heads], ffnLevels: [1] };
  const sorted = await lmRun(o, nesting, 'lm sorted');
  const weights = o.config.exitWeights ?? [];
  return compare({
    name: 'lm', metric: 'perplexity', sorted, lattice: latticeOf({ depth: depths, heads: [heads], ffn: [1] }), twins: o.twins, steps: o.config.steps,
    twinsText: 'trainGpt() with layers = depths = [d]; same tokenizer (BPE trained on the same split), steps, batch, Adam, lr schedule and seed as the sorted run',
    notes: [`the sorted LM nests depth only (heads and ffn at full size), trained with the all-exits loss${weights.length ? `, exits weighted ${weights.join(', ')}` : ''}`],
    // A twin has one exit: the sorted run's exit weights do not apply.
    twin: (l) => lmRun(o, { layers: l.depth!, depths: [l.depth!], headLevels: [heads], ffnLevels: [1], exitWeights: [] }, `lm alone ${subnetId(l)}`),
  }, t);
}
