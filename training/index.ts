/**
 * Public API of `sortednet/training`.
 *
 * @example
 * import { train, forwardSubnet, readCheckpoint } from 'sortednet/training';
 * const { files } = await train({ hidden: 128, epochs: 2, out: 'model.safetensors' });
 * const ckpt = await readCheckpoint(files!.checkpoint);
 * const logits = forwardSubnet(ckpt.tensors, { depth: 1, width: 0.25 }, pixels, 1); // Float32Array [10]
 */
// The sorted MLP.
export { train, type TrainOptions, type TrainResult } from './loop.js';
export { DEFAULT_CONFIG, lrAt, resolveConfig, REDUCES, SAMPLINGS, type Reduce, type Sampling, type TrainConfig } from './config.js';
export { initBackend, BACKEND_CHOICES, type BackendChoice } from './backend.js';
export { forwardSubnet, initMlpTensors, mlpMacs, mlpParams, mlpShapeOf, SortedMlp } from './models/mlp.js';
export { dense, denseBuiltin, type Activation, type DenseOptions } from './models/dense.js';
export { scaledSum, softmaxCrossEntropy, weightedSum } from './models/loss.js';
export { computeGradients, trainStep, type Batch, type StepOptions } from './step.js';
export { evaluateSubnets, formatTable } from './eval.js';
// The sorted CNN.
export { cnnTrainStep, DEFAULT_CNN_TRAIN, resolveCnnConfig, trainCnn, type CnnTrainConfig, type CnnTrainOptions, type CnnTrainResult } from './train-cnn.js';
export { checkCnnConfig, cnnParams, forwardCnnSubnet, initCnnTensors, SortedCnn, type CnnConfig, type CnnMode } from './models/cnn.js';
export { evaluateCnn, type CnnEvalOptions } from './cnn-eval.js';
// The sorted GPT language model.
export { DEFAULT_GPT_TRAIN, encodeDocs, evalGptCheckpoint, resolveGptConfig, trainGpt, type GptTrainConfig, type GptTrainOptions, type GptTrainResult } from './train-gpt.js';
export { DEFAULT_GPT, gptForwardSubnet, gptMacs, gptParams, initGptTensors, SortedGpt, type GptConfig } from './models/gpt.js';
export { evaluateGpt, formatLmTable, lmStep, lmTrainStep, sampleWindows, type LmBatch } from './lm.js';
export { byteTokenizer, compile, decode, encode, trainBpe, validateTokenizer, type BpeTokenizerSpec, type Tokenizer } from './tokenizer.js';
export { brownToText, loadBrown, type LoadBrownOptions, type TextDoc, type TextSplit } from './data/brown.js';
// The training scheme all three share.
export { costWeight, passesOf, planStep, sampleSubnets, type DrawWeight, type Pass, type StepPlan } from './scheme/sampling.js';
export { AdamW, type AdamWOptions, type AdamWState } from './scheme/adamw.js';
export { distilled, softTargetKl, softTargets, type SoftTargets } from './scheme/distill.js';
export { applyTo, sortedStep, type DistillOptions, type StepObjective, type VariableGradients } from './scheme/objective.js';
export { DEFAULT_SCHEME, type SchemeConfig } from './scheme/config.js';
export { readResume, resumePath, writeResume, type ResumeSnapshot, type ResumeState } from './scheme/resume.js';
// Data, checkpoints, plots, progress.
export { accuracyPlotSvg, plotPathFor, writeAccuracyPlot } from './plot.js';
export { ProgressReporter, type TrainEvent } from './progress.js';
export { CLASS_NAMES, describeData, loadFashionMnist, resolveDataDir, type Dataset, type LoadOptions, type Split } from './data/fashion-mnist.js';
export { encodeIdx, parseIdx, type IdxTensor } from './data/idx.js';
export { decodeCheckpoint, encodeCheckpoint, readCheckpoint, validateSpec, writeCheckpoint, type Checkpoint, type NamedTensor } from './checkpoint.js';
export { latticeOf, subnetId, widthUnits, type Dim, type Levels, type MlpConfig, type SortedSpec, type SubnetSpec } from './spec.js';
export { Rng } from './rng.js';
export { main } from './cli.js';
export { SortedNetError } from '../runtime/errors.js';
