/**
 * Public API of `sortednet/training`.
 *
 * @example
 * import { train, forwardSubnet, readCheckpoint } from 'sortednet/training';
 * const { files } = await train({ hidden: 128, epochs: 2, out: 'model.safetensors' });
 * const ckpt = await readCheckpoint(files!.checkpoint);
 * const logits = forwardSubnet(ckpt.tensors, { depth: 1, width: 0.25 }, pixels, 1); // Float32Array [10]
 */
export { train, type TrainOptions, type TrainResult } from './loop.js';
export { DEFAULT_CONFIG, lrAt, resolveConfig, type Reduce, type Sampling, type TrainConfig } from './config.js';
export { initBackend, BACKEND_CHOICES, type BackendChoice } from './backend.js';
export { forwardSubnet, initMlpTensors, mlpMacs, mlpParams, mlpShapeOf, SortedMlp } from './models/mlp.js';
export { dense, denseBuiltin, type Activation, type DenseOptions } from './models/dense.js';
export { softmaxCrossEntropy } from './models/loss.js';
export { computeGradients, trainStep, type Batch } from './step.js';
export { sampleSubnets } from './sampling.js';
export { evaluateSubnets, formatTable } from './eval.js';
export { accuracyPlotSvg, plotPathFor, writeAccuracyPlot } from './plot.js';
export { ProgressReporter, type TrainEvent } from './progress.js';
export { CLASS_NAMES, describeData, loadFashionMnist, resolveDataDir, type Dataset, type LoadOptions, type Split } from './data/fashion-mnist.js';
export { encodeIdx, parseIdx, type IdxTensor } from './data/idx.js';
export { decodeCheckpoint, encodeCheckpoint, readCheckpoint, validateSpec, writeCheckpoint, type Checkpoint, type NamedTensor } from './checkpoint.js';
export { latticeOf, subnetId, widthUnits, type Dim, type Levels, type MlpConfig, type SortedSpec, type SubnetSpec } from './spec.js';
export { Rng } from './rng.js';
export { main } from './cli.js';
export { SortedNetError } from '../runtime/errors.js';
