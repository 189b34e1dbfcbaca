/**
 * `sortednet train` and `sortednet eval`. Exports `main(argv)` (bin/sortednet.js calls it);
 * sets `process.exitCode` instead of exiting, and prints every error as one line.
 *
 * @example
 * await main(['train', '--hidden', '64', '--epochs', '1', '--limit-train', '512', '--out', 'tiny.safetensors']);
 * // backend: wasm
 * // data: fashion-mnist (committed subset, ...): 512 train, 1000 test
 * // | subnet | depth | width | params | MACs | accuracy | loss |  ...
 */
import { initBackend, BACKEND_CHOICES } from './backend.js';
import { readCheckpoint } from './checkpoint.js';
import { archOf, numberFlag, listFlag, choiceFlag, namingFlags, parseCommand, type OptionSpec } from './cli-args.js';
import { cnnEvalCommand, cnnTrainCommand } from './cnn-cli.js';
import { DEFAULT_CONFIG, REDUCES, resolveConfig, SAMPLINGS, type TrainConfig } from './config.js';
import { describeData, loadFashionMnist } from './data/fashion-mnist.js';
import { evaluateSubnets, formatTable, reportEvaluation } from './eval.js';
import { train } from './loop.js';
import { SortedMlp } from './models/mlp.js';
import { gptEvalCommand, gptTrainCommand } from './gpt-cli.js';
import { ProgressReporter } from './progress.js';
import { SCHEME_FLAG_OF, SCHEME_OPTIONS, schemeFlags, schemeHelp } from './scheme/config.js';
import type { MlpConfig } from './spec.js';
import { didYouMean, SortedNetError } from '../runtime/errors.js';

const COMMANDS = ['train', 'eval'] as const;
const D = DEFAULT_CONFIG;

/** Config field -> CLI flag, so errors from resolveConfig name the flag the user typed. */
const FLAG_OF: Record<keyof TrainConfig, string> = {
  arch: '--arch', hidden: '--hidden', depths: '--depths', widths: '--widths', epochs: '--epochs', batch: '--batch',
  lr: '--lr', lrMinFraction: '--lr-min', warmupSteps: '--warmup', groups: '--groups', sampling: '--sampling',
  reduce: '--reduce', seed: '--seed', evalEachEpoch: '--no-epoch-eval', backend: '--backend', workers: '--workers', ...SCHEME_FLAG_OF,
};

const TRAIN_OPTIONS: OptionSpec = {
  arch: { type: 'string' }, hidden: { type: 'string' }, depths: { type: 'string' }, widths: { type: 'string' },
  epochs: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' }, 'lr-min': { type: 'string' },
  warmup: { type: 'string' }, groups: { type: 'string' }, sampling: { type: 'string' }, reduce: { type: 'string' },
  seed: { type: 'string' }, data: { type: 'string' }, 'limit-train': { type: 'string' }, 'limit-test': { type: 'string' },
  backend: { type: 'string' }, workers: { type: 'string' }, out: { type: 'string', short: 'o' }, 'no-epoch-eval': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' }, ...SCHEME_OPTIONS,
};

const EVAL_OPTIONS: OptionSpec = {
  data: { type: 'string' }, 'limit-test': { type: 'string' }, backend: { type: 'string' }, batch: { type: 'string' },
  'eval-tokens': { type: 'string' }, 'limit-docs': { type: 'string' },
  update: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
};

const MAIN_HELP = `Usage: sortednet <command> [options]

Commands:
  train   train a sorted network (--arch mlp, cnn or gpt) and write a checkpoint (.safetensors)
  eval    evaluate every subnet of a checkpoint on the held-out split

Run \`sortednet <command> --help\` for its options.`;

const TRAIN_HELP = `Usage: sortednet train [options]

Model:
  --arch NAME          mlp, cnn or gpt; cnn and gpt have their own flags:       (default ${D.arch})
                       sortednet train --arch cnn --help, --arch gpt --help
  --hidden N           units per hidden layer of the full network         (default ${D.hidden})
  --depths LIST        depth levels, ascending                            (default ${D.depths.join(',')})
  --widths LIST        width levels as fractions, ascending, ending in 1  (default ${D.widths.join(',')})

Optimisation:
  --epochs N           passes over the training split                     (default ${D.epochs})
  --batch N            examples per optimizer step                        (default ${D.batch})
  --lr X               peak learning rate (AdamW)                         (default ${D.lr})
  --lr-min X           final learning rate as a fraction of --lr (cosine) (default ${D.lrMinFraction})
  --warmup N           linear warm-up steps, at most 10% of the run      (default ${D.warmupSteps})
  --groups N           subnets per step (g), or widths under all-exits    (default ${D.groups})
  --sampling MODE      uniform | sandwich (largest + smallest + random)   (default ${D.sampling})
                       | all-exits (every depth of g widths, one pass each)
                       | sandwich-exits (largest + every depth of the narrowest
                         width, one pass + g - 2 random)
                       | ends-exits (every depth of the widest and of the
                         narrowest width, one pass each + g - 2 random)
  --reduce MODE        combine subnet losses: mean | sum                  (default ${D.reduce})
  --seed N             seed for weights, batches and sampling             (default ${D.seed})

${schemeHelp(23, 74)}

Data:
  --data DIR           folder with the Fashion-MNIST IDX files   (default /usr/share/datasets/fashion-mnist,
                       else the committed subset in training/data/fashion-mnist-subset)
  --limit-train N      use only the first N training examples             (default all)
  --limit-test N       use only the first N test examples                 (default all)

Run:
  --backend NAME       auto | tensorflow | wasm | cpu                     (default ${D.backend}: tfjs-node if installed, else wasm)
  --workers N          data-parallel replicas (worker threads, wasm only)  (default ${D.workers})
  -o, --out FILE       checkpoint to write; the plot goes next to it      (default model.safetensors)
  --no-epoch-eval      skip the test check of smallest and largest subnet after each epoch
  -q, --quiet          no progress output
  -h, --help           show this help`;

const EVAL_HELP = `Usage: sortednet eval <checkpoint.safetensors> [options]

Evaluates every subnet on the held-out split: accuracy and loss (mlp, cnn) or loss and
perplexity (gpt, on the Brown held-out files with the checkpoint's own tokenizer).

Options:
  --data DIR           Fashion-MNIST IDX folder, or for gpt the Brown folder (default as in train)
  --limit-test N       use only the first N test examples (mlp, cnn)      (default all)
  --batch N            examples per forward pass (mlp, cnn)               (default 1000)
  --eval-tokens N      held-out tokens (gpt)                              (default as trained)
  --limit-docs N       use only the first N held-out documents (gpt)      (default all)
  --backend NAME       auto | tensorflow | wasm | cpu                     (default auto)
  --update             write the metrics into the checkpoint and redraw its plot
  --json               print the subnets as JSON instead of a table
  -h, --help           show this help`;

const str = (v: Record<string, unknown>, k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);

async function trainCommand(argv: string[]): Promise<void> {
  const cmd = 'sortednet train';
  // The CNN and the GPT have their own flags (training/cnn-cli.ts, training/gpt-cli.ts).
  if (archOf(argv) === 'cnn') return cnnTrainCommand(argv);
  if (archOf(argv) === 'gpt') return gptTrainCommand(argv);
  const { values: v, positionals } = parseCommand(cmd, argv, TRAIN_OPTIONS);
  if (v.help) return void console.log(TRAIN_HELP);
  if (positionals.length) throw new SortedNetError({ code: 'BAD_OPTION', file: cmd, field: '(arguments)', found: `unexpected ${JSON.stringify(positionals[0])}`, fix: 'pass settings as --flags; see `sortednet train --help`' });
  const partial: Partial<TrainConfig> = {
    arch: str(v, 'arch') as TrainConfig['arch'] | undefined,
    hidden: numberFlag(cmd, 'hidden', str(v, 'hidden'), true),
    depths: listFlag(cmd, 'depths', str(v, 'depths')),
    widths: listFlag(cmd, 'widths', str(v, 'widths')),
    epochs: numberFlag(cmd, 'epochs', str(v, 'epochs'), true),
    batch: numberFlag(cmd, 'batch', str(v, 'batch'), true),
    lr: numberFlag(cmd, 'lr', str(v, 'lr')),
    lrMinFraction: numberFlag(cmd, 'lr-min', str(v, 'lr-min')),
    warmupSteps: numberFlag(cmd, 'warmup', str(v, 'warmup'), true),
    groups: numberFlag(cmd, 'groups', str(v, 'groups'), true),
    sampling: choiceFlag(cmd, 'sampling', str(v, 'sampling'), SAMPLINGS),
    reduce: choiceFlag(cmd, 'reduce', str(v, 'reduce'), REDUCES),
    seed: numberFlag(cmd, 'seed', str(v, 'seed'), true),
    backend: choiceFlag(cmd, 'backend', str(v, 'backend'), BACKEND_CHOICES),
    workers: numberFlag(cmd, 'workers', str(v, 'workers'), true),
    evalEachEpoch: v['no-epoch-eval'] ? false : undefined,
    ...schemeFlags(cmd, v),
  };
  // Resuming: only the flags given travel, checked against the resumed run's config by train().
  const resume = Boolean(v.resume);
  const config = resume ? partial : await namingFlags(cmd, FLAG_OF, () => resolveConfig(partial));
  const out = str(v, 'out') ?? 'model.safetensors';
  const log = (line: string) => process.stderr.write(`${line}\n`);

  if (config.backend || !resume) log(`backend: ${await initBackend(config.backend)}`);
  const data = await loadFashionMnist({
    dir: str(v, 'data'),
    limitTrain: numberFlag(cmd, 'limit-train', str(v, 'limit-train'), true),
    limitTest: numberFlag(cmd, 'limit-test', str(v, 'limit-test'), true),
  });
  log(describeData(data));

  const reporter = v.quiet ? undefined : new ProgressReporter();
  try {
    const result = await namingFlags(cmd, FLAG_OF, () => train({ ...config, data, out, resume, onProgress: reporter ? (e) => reporter.on(e) : undefined }));
    console.log(formatTable(result.subnets));
  } finally {
    reporter?.close();
  }
}

async function evalCommand(argv: string[]): Promise<void> {
  const cmd = 'sortednet eval';
  const { values: v, positionals } = parseCommand(cmd, argv, EVAL_OPTIONS);
  if (v.help) return void console.log(EVAL_HELP);
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    throw new SortedNetError({ code: 'BAD_OPTION', file: cmd, field: '<checkpoint>', found: file ? `${positionals.length} files` : 'missing', fix: 'give one checkpoint: sortednet eval model.safetensors' });
  }
  const ckpt = await readCheckpoint(file);
  const gptOnly = ['eval-tokens', 'limit-docs'].find((k) => v[k] !== undefined && ckpt.spec.arch !== 'gpt');
  const classifierOnly = ['limit-test', 'batch'].find((k) => v[k] !== undefined && ckpt.spec.arch === 'gpt');
  if (gptOnly || classifierOnly) {
    throw new SortedNetError({ code: 'BAD_OPTION', file: cmd, field: `--${gptOnly ?? classifierOnly}`, found: `given for a ${ckpt.spec.arch} checkpoint`, fix: gptOnly ? 'it applies to gpt checkpoints; use --limit-test' : 'use --eval-tokens or --limit-docs for a gpt checkpoint' });
  }
  const backend = await initBackend(choiceFlag(cmd, 'backend', str(v, 'backend'), BACKEND_CHOICES) ?? 'auto');
  process.stderr.write(`backend: ${backend}\n`);
  if (ckpt.spec.arch === 'gpt') {
    return gptEvalCommand(file, ckpt, {
      data: str(v, 'data'), limitDocs: numberFlag(cmd, 'limit-docs', str(v, 'limit-docs'), true), evalTokens: numberFlag(cmd, 'eval-tokens', str(v, 'eval-tokens'), true),
      update: Boolean(v.update), json: Boolean(v.json),
    });
  }
  if (ckpt.spec.arch === 'cnn') {
    return cnnEvalCommand(file, ckpt, {
      data: str(v, 'data'), limitTest: numberFlag(cmd, 'limit-test', str(v, 'limit-test'), true), batch: numberFlag(cmd, 'batch', str(v, 'batch'), true),
      update: Boolean(v.update), json: Boolean(v.json),
    });
  }
  const data = await loadFashionMnist({ dir: str(v, 'data'), limitTrain: 0, limitTest: numberFlag(cmd, 'limit-test', str(v, 'limit-test'), true) });
  process.stderr.write(`${describeData(data)}\n`);
  const model = SortedMlp.fromTensors(ckpt.tensors, { file });
  const cfg = ckpt.spec.config as MlpConfig;
  if (cfg.inputSize !== data.inputSize) {
    model.dispose();
    throw new SortedNetError({ code: 'BAD_DATA', file: data.dir, field: 'images', found: `${data.inputSize} values per image, the checkpoint expects ${cfg.inputSize}`, fix: 'evaluate on the data the model was trained on' });
  }
  let subnets;
  try {
    subnets = evaluateSubnets(model, data.test, ckpt.spec.dims, { batch: numberFlag(cmd, 'batch', str(v, 'batch'), true) });
  } finally {
    model.dispose();
  }
  await reportEvaluation(file, ckpt, data, subnets, { json: Boolean(v.json), update: Boolean(v.update) });
}

/** Entry point: `sortednet <command> [options]`. Never throws; sets process.exitCode on failure. */
export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      console.log(MAIN_HELP);
      if (command === undefined) process.exitCode = 2;
      return;
    }
    if (command === 'train') return await trainCommand(rest);
    if (command === 'eval') return await evalCommand(rest);
    const guess = didYouMean(command, COMMANDS);
    throw new SortedNetError({ code: 'BAD_OPTION', file: 'sortednet', field: 'command', found: JSON.stringify(command), fix: guess ? `did you mean \`sortednet ${guess}\`?` : `use ${COMMANDS.join(' or ')}` });
  } catch (err) {
    const message = err instanceof SortedNetError ? err.message : (err as Error)?.message ?? String(err);
    console.error(`error: ${message.split('\n')[0]}`);
    process.exitCode = err instanceof SortedNetError && err.code === 'BAD_OPTION' ? 2 : 1;
  }
}
