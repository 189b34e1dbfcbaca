/**
 * Node only: run a SortedModel in a worker thread, so onnxruntime-node's session creation and
 * runs (which block the thread they run on) never stall the app's JS thread. Electron's main
 * process needs this. The worker imports ORT itself, by module name.
 *
 * @example
 * import { loadInWorker } from 'sortednet/runtime/node-worker';
 * const model = await loadInWorker('model.onnx', { budget: { latencyMs: 2 } });
 * const { logits } = await model.run({ input: { data: pixels, dims: [1, 784] } });
 * logits.dims; // [1, 10] (a plain { type, dims, data } object)
 * await model.release(); // ends the worker
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Calibration } from './latency.js';
import { SortedNetError, type SortedNetErrorInit } from './errors.js';
import type { ProgressEvent } from './loader.js';
import type { Manifest } from './manifest-types.js';
import type { Budget } from './select.js';
import type { Explanation, LoadOptions, RunOptions, SortedModel, SubnetInfo } from './sorted-model.js';

/** `load()` options that can cross a thread boundary, plus the ORT module the worker imports. */
export interface WorkerLoadOptions extends Omit<LoadOptions, 'ort' | 'fetch' | 'onProgress'> {
  /** Module name the worker imports ORT from. @defaultValue 'onnxruntime-node' */
  ort?: string;
  /** Progress events, forwarded from the worker. @defaultValue none */
  onProgress?: (event: ProgressEvent) => void;
}

/** A tensor as it crosses the thread boundary. */
export interface PlainTensor {
  type: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

type Method = 'run' | 'select' | 'explain' | 'use' | 'calibration' | 'release';
type Reply = { id: number; result?: unknown; error?: SortedNetErrorInit & { message: string } } | { event: ProgressEvent };

export class WorkerModel {
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();

  /** @internal use loadInWorker() */
  constructor(private readonly worker: Worker, private readonly onProgress?: (e: ProgressEvent) => void) {
    worker.on('message', (m: Reply) => {
      if ('event' in m) return this.onProgress?.(m.event);
      const p = this.pending.get(m.id)!;
      this.pending.delete(m.id);
      if (m.error) p.reject(m.error.code ? new SortedNetError(m.error) : new Error(m.error.message));
      else p.resolve(m.result);
    });
    worker.on('error', (err) => this.pending.forEach((p) => p.reject(err)));
  }

  /** @internal */
  call<T>(method: Method | 'load', ...args: unknown[]): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  /** The manifest, subnets (with estimates at load) and mode, as loaded in the worker. */
  info!: { manifest: Manifest; subnets: SubnetInfo[]; subnet: SubnetInfo; mode: 'fast' | 'lean' };

  run(feeds: Record<string, { data: Float32Array | BigInt64Array; dims: readonly number[] }>, options?: RunOptions): Promise<Record<string, PlainTensor>> {
    const plain = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { data: v.data, dims: [...v.dims] }]));
    return this.call('run', plain, options);
  }

  select(budget: Budget, batch?: number): Promise<SubnetInfo> {
    return this.call('select', budget, batch);
  }

  explain(budget: Budget, batch?: number): Promise<Explanation> {
    return this.call('explain', budget, batch);
  }

  use(choice: RunOptions): Promise<SubnetInfo> {
    return this.call('use', choice);
  }

  calibration(): Promise<Calibration> {
    return this.call('calibration');
  }

  /** Release the model and end the worker. */
  async release(): Promise<void> {
    await this.call('release');
    await this.worker.terminate();
  }
}

/** Load `source` (a path, URL or bytes) in a new worker thread. */
export async function loadInWorker(source: string | URL | Uint8Array, options: WorkerLoadOptions = {}): Promise<WorkerModel> {
  const { onProgress, ...rest } = options;
  const url = new URL(import.meta.url);
  const workerOptions = { workerData: { sortednetWorker: true } };
  // From TypeScript sources (tests, tsx), the worker registers the same loader first.
  const worker = url.pathname.endsWith('.ts')
    ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((t) => { t.register(); return import(${JSON.stringify(url.href)}); })`, { ...workerOptions, eval: true })
    : new Worker(url, workerOptions);
  const model = new WorkerModel(worker, onProgress);
  try {
    model.info = await model.call('load', source instanceof URL ? source.href : source, rest);
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  return model;
}

/** Worker side: one model, methods called by message. */
async function serve(): Promise<void> {
  const { SortedModel } = await import('./node.js');
  let model: SortedModel | undefined;
  const post = (m: Reply): void => parentPort!.postMessage(m);
  const plain = (outputs: Record<string, { type: string; dims: readonly number[]; data: unknown }>): Record<string, PlainTensor> =>
    Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], data: t.data as Float32Array }]));
  const handle = async ({ id, method, args }: { id: number; method: Method | 'load'; args: any[] }): Promise<void> => {
    try {
      let result: unknown;
      if (method === 'load') {
        const { ort: name = 'onnxruntime-node', ...options } = args[1] as WorkerLoadOptions;
        const ort = await import(name);
        model = await SortedModel.load(args[0], { ...options, ort: ort.default ?? ort, onProgress: (event) => post({ event }) });
        result = { manifest: model.manifest, subnets: model.subnets, subnet: model.subnet, mode: model.mode };
      } else if (method === 'run') result = plain(await model!.run(args[0], args[1]));
      else if (method === 'calibration') result = model!.calibration;
      else if (method === 'release') result = await model!.release();
      else result = await (model![method] as (...a: unknown[]) => unknown)(...args);
      post({ id, result });
    } catch (err) {
      const e = err as SortedNetError;
      post({ id, error: { code: e.code, file: e.file, field: e.field, found: e.found, fix: e.fix, message: e.message } });
    }
  };
  parentPort!.on('message', (m: Parameters<typeof handle>[0]) => void handle(m));
}

if (!isMainThread && (workerData as { sortednetWorker?: boolean } | null)?.sortednetWorker) void serve();
