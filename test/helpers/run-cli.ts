/**
 * Run the `sortednet` CLI's main() in-process and capture what it prints and its exit code.
 *
 * @example
 * const r = await runCli(t, ['train', '--hiden', '4']);
 * r.code; // 2
 * r.err;  // 'error: sortednet train: --hiden: unknown option. Fix: did you mean --hidden?'
 */
import type { TestContext } from 'node:test';
import { main } from '../../training/cli.js';

export async function runCli(t: Pick<TestContext, 'mock'>, argv: string[]): Promise<{ out: string; err: string; code: number }> {
  const out: string[] = [];
  const err: string[] = [];
  t.mock.method(console, 'log', (...a: unknown[]) => void out.push(a.join(' ')));
  t.mock.method(console, 'error', (...a: unknown[]) => void err.push(a.join(' ')));
  t.mock.method(process.stderr, 'write', (s: unknown) => (err.push(String(s)), true));
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await main(argv);
    return { out: out.join('\n'), err: err.join('\n'), code: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = before;
    t.mock.restoreAll();
  }
}
