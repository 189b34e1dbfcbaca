/**
 * Argument parsing shared by the `sortednet` commands: node:util parseArgs in strict mode,
 * with unknown options turned into a one-line SortedNetError that suggests the closest flag.
 *
 * @example
 * parseCommand('sortednet train', ['--hiden', '64'], { hidden: { type: 'string' } });
 * // throws: sortednet train: --hiden: unknown option. Fix: did you mean --hidden?
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean, SortedNetError } from '../runtime/errors.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export function parseCommand(command: string, argv: string[], options: OptionSpec) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    const flag = /'(-{1,2}[^'\s]+)'/.exec(e.message)?.[1];
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) {
      const names = Object.keys(options).map((k) => `--${k}`);
      const guess = didYouMean(flag.replace(/=.*$/, ''), names);
      throw new SortedNetError({ code: 'BAD_OPTION', file: command, field: flag, found: 'unknown option', fix: guess ? `did you mean ${guess}?` : `see \`${command} --help\`` });
    }
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) {
      throw new SortedNetError({ code: 'BAD_OPTION', file: command, field: flag, found: 'missing or invalid value', fix: `give a value, e.g. ${flag} VALUE; see \`${command} --help\`` });
    }
    throw new SortedNetError({ code: 'BAD_OPTION', file: command, field: '(arguments)', found: e.message.split('\n')[0]!, fix: `see \`${command} --help\`` });
  }
}

/** A number flag: undefined when absent, else a finite number (whole if `int`). */
export function numberFlag(command: string, flag: string, value: string | undefined, int = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n))) {
    throw new SortedNetError({ code: 'BAD_OPTION', file: command, field: `--${flag}`, found: JSON.stringify(value), fix: `give ${int ? 'a whole number' : 'a number'}, e.g. --${flag} ${int ? '4' : '0.001'}` });
  }
  return n;
}

/** A comma-separated number list flag, e.g. `--widths 0.25,0.5,1`. */
export function listFlag(command: string, flag: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n))) {
    throw new SortedNetError({ code: 'BAD_OPTION', file: command, field: `--${flag}`, found: JSON.stringify(value), fix: `give comma-separated numbers, e.g. --${flag} ${flag === 'depths' ? '1,2,3' : '0.25,0.5,1'}` });
  }
  return nums;
}

/** A flag restricted to a closed vocabulary. */
export function choiceFlag<T extends string>(command: string, flag: string, value: string | undefined, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (choices.includes(value as T)) return value as T;
  const guess = didYouMean(value, choices);
  throw new SortedNetError({ code: 'BAD_OPTION', file: command, field: `--${flag}`, found: JSON.stringify(value), fix: guess ? `did you mean ${guess}?` : `use one of ${choices.join(', ')}` });
}

/** The value of `--arch` in argv (`--arch cnn` or `--arch=cnn`), without parsing the rest. */
export function archOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--arch') return argv[i + 1];
    if (argv[i]!.startsWith('--arch=')) return argv[i]!.slice('--arch='.length);
  }
  return undefined;
}

/**
 * Run `fn`; an API error about a config field (file `<api>`) is rethrown naming the flag the
 * user typed, e.g. `sortednet train: --lr-min` rather than `<api>: lrMinFraction`.
 */
export async function namingFlags<T>(command: string, flagOf: Readonly<Record<string, string>>, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SortedNetError && err.file === '<api>' && err.field in flagOf) {
      throw new SortedNetError({ code: err.code, file: command, field: flagOf[err.field]!, found: err.found, fix: err.fix, cause: err });
    }
    throw err;
  }
}
