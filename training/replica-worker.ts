/**
 * Worker-thread replica for data-parallel training (see parallel.ts). Builds its own
 * tfjs-wasm model and AdamW from the shared initial weights and optimizer state, then loops:
 * wait for a step, take its rows of the batch, and run replicaStep. Posts its final weights
 * on stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from './backend.js';
import { SortedMlp } from './models/mlp.js';
import { CMD, CTRL, replicaOptimizer, replicaStep, waitFor, type ReplicaInit } from './parallel.js';

const init = workerData as ReplicaInit;
const ctrl = new Int32Array(init.ctrl);
try {
  await initBackend('wasm');
  const model = SortedMlp.fromTensors(init.tensors, { trainable: true });
  const optimizer = replicaOptimizer(init.adam, init.optimizerState, model);
  const shared = {
    scalars: new Float64Array(init.scalars), x: new Float32Array(init.x), labels: new Int32Array(init.labels), grads: new Float32Array(init.grads),
  };
  parentPort!.postMessage('ready');
  for (let seq = 1; ; seq++) {
    waitFor(ctrl, CTRL.seq, seq);
    if (ctrl[CTRL.command] === CMD.stop) break;
    const subnets = Array.from({ length: ctrl[CTRL.g]! }, (_, i) => init.lattice[ctrl[CTRL.subnets + i]!]!);
    replicaStep({ rank: init.rank, replicas: init.replicas, model, optimizer, names: init.names, reduce: init.reduce, step: init.step, ctrl, ...shared, seq, subnets });
  }
  parentPort!.postMessage(model.toTensors());
  model.dispose();
  optimizer.dispose();
} catch (err) {
  Atomics.store(ctrl, CTRL.failed, 1);
  Atomics.notify(ctrl, CTRL.arrived);
  throw err;
}
