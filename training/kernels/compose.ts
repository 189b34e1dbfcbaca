/**
 * Helpers for kernels composed from other kernels of the same backend, the way tfjs backends
 * build their own composite kernels: call each registered kernelFunc directly on TensorInfos
 * and release the intermediates, so the composite leaves exactly one output behind.
 *
 * @example
 * const k = composer('wasm', backend);
 * const t = k.run('Transpose', { x }, { perm: [1, 0] });
 * k.release(t); // refcount back down; memory freed when nothing else holds it
 */
import { getKernel, type KernelBackend, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';

export interface Composer {
  /** Run kernel `name` of the backend; the result is owned by the caller. */
  run(name: string, inputs: NamedTensorInfoMap, attrs?: NamedAttrMap): TensorInfo;
  /** Drop the caller's reference to intermediates. */
  release(...infos: TensorInfo[]): void;
}

/** `backend` is the kernelFunc's backend argument (typed `{}` by tfjs). */
export function composer(backendName: string, backendArg: object): Composer {
  const backend = backendArg as KernelBackend;
  return {
    run(name, inputs, attrs = {}) {
      const kernel = getKernel(name, backendName);
      if (!kernel) throw new Error(`kernel ${name} is not registered for backend ${backendName}`);
      const out = kernel.kernelFunc({ inputs, attrs, backend });
      if (Array.isArray(out)) throw new Error(`kernel ${name} returned ${out.length} outputs, expected one`);
      return out;
    },
    release(...infos) {
      for (const info of infos) backend.disposeData(info.dataId);
    },
  };
}
