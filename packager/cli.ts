/**
 * `sortednet-pack`: pack a checkpoint, inspect a packed file, extract one subnet.
 * Exports `main(argv)` for tests; sets `process.exitCode` instead of exiting.
 *
 * @example
 * await main(['model.safetensors', '-o', 'model.onnx']);
 * // wrote model.onnx: 3.74 MB, 12 subnets; d1-w25 needs the first 416.1 kB (11%)
 * await main(['extract', 'model.onnx', '--subnet', 'd9']);
 * // error: model.onnx: subnet: "d9" is not in the manifest. Fix: use one of d1-w25, ...   (exitCode 1)
 */
import { basename, dirname, extname, join } from 'node:path';
import { didYouMean, SortedNetError } from '../runtime/errors.js';
import { extractFile } from './extract.js';
import { dumpGraph, formatBytes, formatInspect, inspectBytes } from './inspect.js';
import { packFile } from './pack.js';
import { readOnnx } from './read.js';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

const stdio: CliIO = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

const HELP = {
  pack: `Usage: sortednet-pack <checkpoint.safetensors> [-o <model.onnx>]

Pack a sorted checkpoint into one ONNX file: the full network, every weight stored once,
bytes ordered so each subnet needs only a prefix of the file, the manifest in metadata_props.

Options:
  -o, --output <file>   where to write          (default: the checkpoint path with .onnx)
  -q, --quiet           print nothing on success (default: off)
  -h, --help            show this help

Other commands:
  sortednet-pack inspect <model.onnx> [--json] [--graph]   list the subnets
  sortednet-pack extract <model.onnx> --subnet <id> -o <sub.onnx>   one subnet as its own ONNX
`,
  inspect: `Usage: sortednet-pack inspect <model.onnx> [--json] [--graph]

Print the subnets of a packed file: id, levels, params, MACs, weight bytes, file prefix
needed, and held-out metrics.

Options:
  --json       print { file, size, manifest } as JSON   (default: a table)
  --graph      print a text dump of the ONNX graph        (default: off)
  -h, --help   show this help
`,
  extract: `Usage: sortednet-pack extract <model.onnx> --subnet <id> [-o <sub.onnx>]

Write one subnet as a standalone ONNX model, weights folded into plain initializers.

Options:
  -s, --subnet <id>     subnet id, e.g. d1-w25 (see \`sortednet-pack inspect\`)   (required)
  -o, --output <file>   where to write   (default: <model>.<id>.onnx beside the input)
  -h, --help            show this help
`,
} as const;

type Command = keyof typeof HELP;
type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

const FLAGS: Record<Command, FlagSpec> = {
  pack: { output: { type: 'string', short: 'o' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' } },
  inspect: { json: { type: 'boolean' }, graph: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  extract: { subnet: { type: 'string', short: 's' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
};

const usage = (field: string, found: string, fix: string): SortedNetError => new SortedNetError({ code: 'BAD_OPTION', file: 'sortednet-pack', field, found, fix });

/** Parse `--name value`, `--name=value`, `-x value` and booleans; reject unknown flags with a did-you-mean. */
export function parseFlags(argv: string[], spec: FlagSpec, command: Command): { positionals: string[]; values: Record<string, string | boolean> } {
  const positionals: string[] = [];
  const values: Record<string, string | boolean> = {};
  const names = Object.keys(spec);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--' || !arg.startsWith('-') || arg === '-') {
      positionals.push(...(arg === '--' ? argv.slice(i + 1) : [arg]));
      if (arg === '--') break;
      continue;
    }
    const [flag, inline] = arg.startsWith('--') ? [arg.slice(2).split('=')[0]!, arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined] : [arg.slice(1), undefined];
    const name = arg.startsWith('--') ? flag : names.find((n) => spec[n]!.short === flag);
    if (!name || !spec[name]) {
      const guess = didYouMean(flag, names);
      throw usage(arg, `unknown option for sortednet-pack${command === 'pack' ? '' : ` ${command}`}`, guess ? `did you mean --${guess}? See --help` : 'see --help');
    }
    if (spec[name]!.type === 'boolean') {
      values[name] = true;
    } else {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('-'))) throw usage(`--${name}`, 'no value', `give a value: --${name} <${name === 'subnet' ? 'id' : 'file'}>`);
      values[name] = v;
    }
  }
  return { positionals, values };
}

const COMMANDS = { inspect: (a: string[], io: CliIO) => inspect(a, io), extract: (a: string[], io: CliIO) => extract(a, io) } as const;

async function pack(argv: string[], io: CliIO): Promise<void> {
  const { positionals, values } = parseFlags(argv, FLAGS.pack, 'pack');
  if (values.help) return io.out(HELP.pack);
  if (positionals.length !== 1) {
    const command = positionals.length > 1 ? didYouMean(positionals[0]!, Object.keys(COMMANDS)) : undefined;
    const fix = command ? `did you mean \`sortednet-pack ${command}\`?` : 'give one checkpoint: sortednet-pack model.safetensors -o model.onnx';
    throw usage('<checkpoint>', positionals.length ? `${positionals.length} paths: ${positionals.join(' ')}` : 'missing', fix);
  }
  const input = positionals[0]!;
  const output = (values.output as string | undefined) ?? join(dirname(input), `${basename(input, extname(input))}.onnx`);
  const { bytes, manifest, ignored } = await packFile(input, output);
  if (values.quiet) return;
  const first = manifest.subnets[0]!;
  io.out(`wrote ${output}: ${formatBytes(bytes.length)}, ${manifest.subnets.length} subnets; ${first.id} needs the first ${formatBytes(first.prefixBytes)} (${Math.round((100 * first.prefixBytes) / bytes.length)}%)\n`);
  if (ignored.length) io.out(`note: not packed (unused by the network): ${ignored.join(', ')}\n`);
}

async function inspect(argv: string[], io: CliIO): Promise<void> {
  const { positionals, values } = parseFlags(argv, FLAGS.inspect, 'inspect');
  if (values.help) return io.out(HELP.inspect);
  if (positionals.length !== 1) throw usage('<model.onnx>', positionals.length ? positionals.join(' ') : 'missing', 'give one packed file: sortednet-pack inspect model.onnx');
  const file = positionals[0]!;
  const bytes = await readOnnx(file);
  const report = inspectBytes(bytes, file);
  if (values.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
  else io.out(`${formatInspect(report)}\n`);
  if (values.graph) io.out(dumpGraph(bytes, file));
}

async function extract(argv: string[], io: CliIO): Promise<void> {
  const { positionals, values } = parseFlags(argv, FLAGS.extract, 'extract');
  if (values.help) return io.out(HELP.extract);
  if (positionals.length !== 1) throw usage('<model.onnx>', positionals.length ? positionals.join(' ') : 'missing', 'give one packed file: sortednet-pack extract model.onnx --subnet d1-w25 -o sub.onnx');
  const input = positionals[0]!;
  const id = values.subnet as string | undefined;
  if (!id) throw usage('--subnet', 'missing', 'name the subnet: --subnet <id> (ids: sortednet-pack inspect model.onnx)');
  const output = (values.output as string | undefined) ?? join(dirname(input), `${basename(input, extname(input))}.${id}.onnx`);
  const { bytes } = await extractFile(input, id, output);
  io.out(`wrote ${output}: subnet ${id}, ${formatBytes(bytes.length)}\n`);
}


/** Run the CLI. Returns the exit code and sets `process.exitCode` to it. */
export async function main(argv: string[], io: CliIO = stdio): Promise<number> {
  let code = 0;
  try {
    const [first, ...rest] = argv;
    if (first === 'inspect' || first === 'extract') await COMMANDS[first](rest, io);
    else await pack(argv, io);
  } catch (err) {
    if (err instanceof SortedNetError) {
      io.err(`error: ${err.message}\n`);
      code = err.code === 'BAD_OPTION' ? 2 : 1;
    } else {
      io.err(`error: ${(err as Error)?.message ?? String(err)}\n`);
      if (process.env.SORTEDNET_DEBUG) io.err(`${(err as Error)?.stack}\n`);
      code = 1;
    }
  }
  process.exitCode = code;
  return code;
}
