/**
 * `sortednet train --arch cnn` and `sortednet eval` of a CNN checkpoint. training/cli.ts hands
 * over to these (see `archOf`), so the MLP's flags and the CNN's stay apart.
 *
 * @example
 * await cnnTrainCommand(['--arch', 'cnn', '--channels', '8', '--blocks', '2', '--depths', '1,2', '--epochs', '1', '--limit-train', '512', '-o', 'cnn.safetensors']);
 * // | subnet | depth | width | params | MACs | accuracy | loss | ...
 */
import { SortedNetError } from '../runtime/errors.js';
import { BACKEND_CHOICES } from './backend.js';
import type { Checkpoint } from './checkpoint.js';
import { choiceFlag, listFlag, namingFlags, numberFlag, parseCommand, type OptionSpec } from './cli-args.js';
import { evaluateCnn } from './cnn-eval.js';
import { REDUCES, SAMPLINGS } from './config.js';
import { describeData, loadFashionMnist } from './data/fashion-mnist.js';
import { formatTable, reportEvaluation } from './eval.js';
import { SortedCnn } from './models/cnn.js';
import { writeAccuracyPlot } from './plot.js';
import { ProgressReporter } from './progress.js';
import { SCHEME_FLAG_OF, SCHEME_OPTIONS, schemeFlags, schemeHelp } from './scheme/config.js';
import { DEFAULT_CNN_TRAIN, resolveCnnConfig, trainCnn, type CnnTrainConfig } from './train-cnn.js';

const D = DEFAULT_CNN_TRAIN;
const CMD = 'sortednet train';

export { archOf } from './cli-args.js';

const FLAG_OF: Record<keyof CnnTrainConfig, string> = {
  channels: '--channels', stages: '--stages', blocks: '--blocks', stemStride: '--stem-stride', depths: '--depths', widths: '--widths',
  epochs: '--epochs', batch: '--batch', lr: '--lr', lrMinFraction: '--lr-min', warmupSteps: '--warmup', groups: '--groups',
  sampling: '--sampling', reduce: '--reduce', calibrationImages: '--calibration-images', evalEachEpoch: '--no-epoch-eval',
  seed: '--seed', backend: '--backend', augment: '--augment', labelSmoothing: '--label-smoothing', ...SCHEME_FLAG_OF,
};

const OPTIONS: OptionSpec = {
  arch: { type: 'string' }, channels: { type: 'string' }, stages: { type: 'string' }, blocks: { type: 'string' }, 'stem-stride': { type: 'string' },
  depths: { type: 'string' }, widths: { type: 'string' }, epochs: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' },
  'lr-min': { type: 'string' }, warmup: { type: 'string' }, groups: { type: 'string' }, sampling: { type: 'string' }, reduce: { type: 'string' },
  'calibration-images': { type: 'string' }, seed: { type: 'string' }, data: { type: 'string' }, 'limit-train': { type: 'string' },
  'limit-test': { type: 'string' }, backend: { type: 'string' }, out: { type: 'string', short: 'o' }, 'no-epoch-eval': { type: 'boolean' },
  augment: { type: 'boolean' }, 'label-smoothing': { type: 'string' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' }, ...SCHEME_OPTIONS,
};

export const CNN_TRAIN_HELP = `Usage: sortednet train --arch cnn [options]

Model (a ResNet; see docs/cnn.md):
  --channels N            channels of the stem and stage 0; stage s has N * 2^s   (default ${D.channels})
  --stages N              stages, each halving the resolution                      (default ${D.stages})
  --blocks N              residual blocks per stage of the full network            (default ${D.blocks})
  --stem-stride N         2: the stem halves the resolution; 1: stage 0 does       (default ${D.stemStride})
  --depths LIST           depth levels (blocks per stage), ascending, ending in --blocks (default ${D.depths.join(',')})
  --widths LIST           width levels as fractions, ascending, ending in 1        (default ${D.widths.join(',')})

Optimisation:
  --epochs N              passes over the training split                           (default ${D.epochs})
  --batch N               examples per optimizer step                              (default ${D.batch})
  --lr X                  peak learning rate (AdamW)                               (default ${D.lr})
  --lr-min X              final learning rate as a fraction of --lr (cosine)       (default ${D.lrMinFraction})
  --warmup N              linear warm-up steps                                     (default ${D.warmupSteps})
  --groups N              subnets per step (g); widths per step under all-exits    (default ${D.groups})
  --augment               random left-right flips and 2-pixel shifts of the training images (default off)
  --label-smoothing E     train against (1-E)·one-hot + E/classes, in [0, 1)       (default ${D.labelSmoothing}: off)
  --sampling MODE         uniform | sandwich (largest + smallest + random) |       (default ${D.sampling})
                          all-exits (every depth of g widths, stage 0 shared) |
                          sandwich-exits (largest + every depth of the narrowest
                          width + g - 2 random) | ends-exits (every depth of the
                          widest and of the narrowest width + g - 2 random)
  --reduce MODE           combine subnet losses: mean | sum                        (default ${D.reduce})
  --calibration-images N  training images for every subnet's batch-norm statistics (default ${D.calibrationImages})
  --seed N                seed for weights, batches and sampling                   (default ${D.seed})

${schemeHelp(26, 83, D)}

Data:
  --data DIR              folder with the Fashion-MNIST IDX files (default as for the MLP)
  --limit-train N         use only the first N training examples                   (default all)
  --limit-test N          use only the first N test examples                       (default all)

Run:
  --backend NAME          auto | tensorflow | wasm | cpu                           (default ${D.backend})
  -o, --out FILE          checkpoint to write; the plot goes next to it            (default model.safetensors)
  --no-epoch-eval         skip the test check of smallest and largest subnet after each epoch
  -q, --quiet             no progress output
  -h, --help              show this help`;

const str = (v: Record<string, unknown>, k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);

/** `sortednet train --arch cnn ...`: train, print the subnet table, write checkpoint and plot. */
export async function cnnTrainCommand(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseCommand(CMD, argv, OPTIONS);
  if (v.help) return void console.log(CNN_TRAIN_HELP);
  if (positionals.length) throw new SortedNetError({ code: 'BAD_OPTION', file: CMD, field: '(arguments)', found: `unexpected ${JSON.stringify(positionals[0])}`, fix: 'pass settings as --flags; see `sortednet train --arch cnn --help`' });
  const int = (flag: string) => numberFlag(CMD, flag, str(v, flag), true);
  const partial: Partial<CnnTrainConfig> = {
    ...schemeFlags(CMD, v),
    channels: int('channels'), stages: int('stages'), blocks: int('blocks'), stemStride: int('stem-stride'),
    depths: listFlag(CMD, 'depths', str(v, 'depths')), widths: listFlag(CMD, 'widths', str(v, 'widths')),
    epochs: int('epochs'), batch: int('batch'), lr: numberFlag(CMD, 'lr', str(v, 'lr')), lrMinFraction: numberFlag(CMD, 'lr-min', str(v, 'lr-min')),
    warmupSteps: int('warmup'), groups: int('groups'), sampling: choiceFlag(CMD, 'sampling', str(v, 'sampling'), SAMPLINGS),
    reduce: choiceFlag(CMD, 'reduce', str(v, 'reduce'), REDUCES), calibrationImages: int('calibration-images'), seed: int('seed'),
    backend: choiceFlag(CMD, 'backend', str(v, 'backend'), BACKEND_CHOICES), evalEachEpoch: v['no-epoch-eval'] ? false : undefined,
    augment: v.augment ? true : undefined, labelSmoothing: numberFlag(CMD, 'label-smoothing', str(v, 'label-smoothing')),
  };
  // A depth list without --blocks sets the full depth.
  if (partial.depths && partial.blocks === undefined) partial.blocks = Math.max(...partial.depths);
  // Resuming: only the flags given travel, checked against the resumed run's config by trainCnn.
  const resume = Boolean(v.resume);
  const config = resume ? partial : await namingFlags(CMD, FLAG_OF, () => resolveCnnConfig(partial));
  const out = str(v, 'out') ?? 'model.safetensors';
  const data = await loadFashionMnist({ dir: str(v, 'data'), limitTrain: int('limit-train'), limitTest: int('limit-test') });
  process.stderr.write(`${describeData(data)}\n`);
  const reporter = v.quiet ? undefined : new ProgressReporter();
  try {
    const result = await namingFlags(CMD, FLAG_OF, () => trainCnn({ ...config, data, out, resume, onProgress: reporter ? (e) => reporter.on(e) : undefined }));
    await writeAccuracyPlot(out, result.subnets);
    console.log(formatTable(result.subnets));
  } finally {
    reporter?.close();
  }
}

export interface CnnEvalFlags {
  data?: string;
  limitTest?: number;
  batch?: number;
  update?: boolean;
  json?: boolean;
}

/** `sortednet eval` of a CNN checkpoint (backend already initialised): every subnet on the test split. */
export async function cnnEvalCommand(file: string, ckpt: Checkpoint, flags: CnnEvalFlags): Promise<void> {
  const data = await loadFashionMnist({ dir: flags.data, limitTrain: 0, limitTest: flags.limitTest });
  process.stderr.write(`${describeData(data)}\n`);
  const model = SortedCnn.fromTensors(ckpt.tensors, ckpt.spec.config as Record<string, unknown>, { file });
  const per = model.config.imageSize * model.config.imageSize * model.config.inChannels;
  let subnets;
  try {
    if (per !== data.inputSize) throw new SortedNetError({ code: 'BAD_DATA', file: data.dir, field: 'images', found: `${data.inputSize} values per image, the checkpoint expects ${per}`, fix: 'evaluate on the data the model was trained on' });
    subnets = evaluateCnn(model, data.test, ckpt.spec.dims, { batch: flags.batch });
  } finally {
    model.dispose();
  }
  await reportEvaluation(file, ckpt, data, subnets, flags);
}
