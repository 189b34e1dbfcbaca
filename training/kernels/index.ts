/**
 * Extra kernels for the wasm backend, so convolutional models train there.
 *
 * - `Conv2DBackpropFilter`: missing from tfjs-backend-wasm 4.22; without it `tf.grad` of a
 *   conv fails. See conv2d-backprop-filter.ts.
 * - `Conv2DBackpropInput`: present but a plain loop, 5-10x slower than the forward conv;
 *   replaced by a forward conv on XNNPACK. See conv2d-backprop-input.ts.
 *
 * Everything else a ResNet needs has wasm kernels (MaxPoolGrad, AvgPoolGrad, PadV2, Step, ...).
 * The cpu backend has its own kernels and is left alone.
 *
 * @example
 * registerWasmKernels();   // idempotent; call before or after tf.setBackend('wasm')
 * wasmKernelsRegistered(); // true
 */
// Load the stock wasm kernels first, so that ours replace them and not the other way round.
import '@tensorflow/tfjs-backend-wasm';
import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.js';

const BACKEND = 'wasm';
const CONFIGS: readonly KernelConfig[] = [conv2dBackpropFilterConfig(BACKEND), conv2dBackpropInputConfig(BACKEND)];
let registered = false;

/** The kernels this module adds or replaces on wasm. */
export function wasmKernelConfigs(): readonly KernelConfig[] {
  return CONFIGS;
}

/** Register (or replace) the kernels above for the wasm backend. Safe to call many times. */
export function registerWasmKernels(): void {
  if (registered) return;
  for (const config of wasmKernelConfigs()) {
    // Replacing a stock kernel: unregister first so tfjs does not warn.
    if (getKernel(config.kernelName, BACKEND)) unregisterKernel(config.kernelName, BACKEND);
    registerKernel(config);
  }
  registered = true;
}

export function wasmKernelsRegistered(): boolean {
  return registered;
}
