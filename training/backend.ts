/**
 * Pick the TensorFlow.js backend that trains. `auto` prefers native TensorFlow
 * (`@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node`, both optional and not
 * dependencies of sortednet), and falls back to WebAssembly, which always works.
 *
 * @example
 * await initBackend('auto'); // 'wasm' (no tfjs-node installed)
 * await initBackend('cpu');  // 'cpu'  (pure JS, slow; for debugging)
 */
import * as tf from '@tensorflow/tfjs-core';
import { SortedNetError } from '../runtime/errors.js';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** Optional native packages, tried in order. Imported by a computed name so no bundler or tsc needs them. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

async function tryImport(name: string): Promise<boolean> {
  try {
    await import(name);
    return true;
  } catch {
    return false;
  }
}

async function use(name: string): Promise<boolean> {
  try {
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    return tf.getBackend() === name;
  } catch {
    return false;
  }
}

async function initNative(): Promise<boolean> {
  for (const pkg of NATIVE_PACKAGES) {
    // tfjs-node registers the 'tensorflow' backend on import.
    if ((await tryImport(pkg)) && (await use('tensorflow'))) return true;
  }
  return false;
}

async function initWasm(): Promise<boolean> {
  // The emscripten glue adds process 'uncaughtException'/'unhandledRejection' listeners that
  // rethrow and make Node print the whole minified module; take them off again.
  const before = { uncaughtException: process.listeners('uncaughtException'), unhandledRejection: process.listeners('unhandledRejection') };
  await import('@tensorflow/tfjs-backend-wasm');
  const ok = await use('wasm');
  for (const l of process.listeners('uncaughtException')) if (!before.uncaughtException.includes(l)) process.removeListener('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection')) if (!before.unhandledRejection.includes(l)) process.removeListener('unhandledRejection', l);
  return ok;
}

async function initCpu(): Promise<boolean> {
  await import('@tensorflow/tfjs-backend-cpu');
  return use('cpu');
}

/**
 * Initialise and select a backend; returns the name of the one that runs
 * (`'tensorflow'`, `'wasm'` or `'cpu'`). Throws a SortedNetError when an explicit choice is unavailable.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<string> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'backend', found: JSON.stringify(choice), fix: `use one of ${BACKEND_CHOICES.join(', ')}` });
  }
  if (choice === 'auto') {
    if (await initNative()) return 'tensorflow';
    if (await initWasm()) return 'wasm';
    if (await initCpu()) return 'cpu';
  } else if (choice === 'tensorflow') {
    if (await initNative()) return 'tensorflow';
    throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'backend', found: '"tensorflow" but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node loads', fix: 'npm install @tensorflow/tfjs-node (same version as @tensorflow/tfjs-core), or use --backend wasm' });
  } else if (choice === 'wasm') {
    if (await initWasm()) return 'wasm';
  } else if (await initCpu()) {
    return 'cpu';
  }
  throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'backend', found: `${JSON.stringify(choice)} failed to initialise`, fix: 'use --backend cpu, or reinstall @tensorflow/tfjs-backend-wasm' });
}
