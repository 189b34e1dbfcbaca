/**
 * `npm start`: the whole path on an embedded default, in about a minute on two cores.
 * Trains a small sorted MLP on the Fashion-MNIST subset committed to the repo, packs it into
 * one ONNX file, then lets the runtime pick a different subnet for each budget.
 *
 * @example
 * // $ npm start
 * // backend: wasm
 * // data: fashion-mnist (committed subset, ...)
 * // | subnet | depth | width | ... accuracy |
 * // packed examples/out/model.onnx: 12 subnets, ... bytes
 * // budget { latencyMs: ... } -> d1-w25 ...
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import * as ort from 'onnxruntime-node';
import { train, formatTable, loadFashionMnist, CLASS_NAMES, ProgressReporter } from '../training/index.js';
import { subsetDir } from '../training/data/fashion-mnist.js';
import { packFile } from '../packager/index.js';
import { SortedModel, type Budget } from '../runtime/node.js';

/** Where the example writes its files (ignored by git). */
const outDir = fileURLToPath(new URL('./out/', import.meta.url));

export async function quickstart(options: { epochs?: number; quiet?: boolean } = {}): Promise<{ choices: { budget: Budget; subnet: string }[] }> {
  const log = options.quiet ? () => {} : (line: string) => console.log(line);
  await mkdir(outDir, { recursive: true });

  // 1. Train: one sorted MLP holds 3 depths x 4 widths = 12 subnets.
  const data = await loadFashionMnist({ dir: subsetDir() });
  log(`data: ${data.name} (committed subset): ${data.train.n} train, ${data.test.n} test`);
  const progress = options.quiet ? undefined : new ProgressReporter();
  const result = await train({
    data, hidden: 256, depths: [1, 2, 3], widths: [0.25, 0.5, 0.75, 1], epochs: options.epochs ?? 10,
    warmupSteps: 20, backend: 'auto', out: `${outDir}model.safetensors`,
    onProgress: progress ? (e) => progress.on(e) : undefined,
  });
  progress?.close();
  log(`backend: ${result.backend}`);
  log(formatTable(result.subnets));
  log(`plot: ${relative(process.cwd(), result.files!.plot)}`);

  // 2. Pack: one ONNX file, every weight stored once, smallest subnet's bytes first.
  const packed = await packFile(result.files!.checkpoint, `${outDir}model.onnx`);
  const smallest = packed.manifest.subnets[0]!;
  log(`packed ${relative(process.cwd(), `${outDir}model.onnx`)}: ${packed.manifest.subnets.length} subnets, ${packed.bytes.length} bytes; ${smallest.id} needs the first ${smallest.prefixBytes} bytes`);

  // 3. Run: the runtime picks the most accurate subnet that fits each budget.
  const model = await SortedModel.load(`${outDir}model.onnx`, { ort });
  // Latency budgets follow the live estimates (calibrated at load, then learned from each call).
  const lat = () => model.subnets.map((sub) => sub.estimate.latencyMs);
  const budgets: (() => Budget)[] = [
    () => ({}),
    () => ({ memoryMB: (smallest.bytes / 2 ** 20) * 1.5 }),
    () => ({ latencyMs: Math.min(...lat()) * 1.05 }),
    () => ({ latencyMs: (Math.min(...lat()) + Math.max(...lat())) / 2 }),
    () => ({ minAccuracy: 0.5 }),
  ];
  const x = data.test.images.subarray(0, 784);
  const choices: { budget: Budget; subnet: string }[] = [];
  for (const makeBudget of budgets) {
    const budget = makeBudget();
    const chosen = model.select(budget);
    const out = await model.run({ input: { data: x, dims: [1, 784] } }, { subnet: chosen.id });
    const logits = out.logits!.data as Float32Array;
    const label = logits.indexOf(Math.max(...logits));
    const acc = chosen.metrics.accuracy;
    log(`budget ${JSON.stringify(budget, (_k, v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(3)) : v))} -> ${chosen.id} (accuracy ${acc === undefined ? '?' : (acc * 100).toFixed(1) + '%'}, ~${chosen.estimate.latencyMs.toFixed(3)} ms) predicts "${CLASS_NAMES[label]}" (true: "${CLASS_NAMES[data.test.labels[0]!]}")`);
    choices.push({ budget, subnet: chosen.id });
  }
  await model.release();
  return { choices };
}

if (import.meta.url === `file://${process.argv[1]}`) await quickstart();
