/**
 * The slice of onnxruntime's API the runtime uses, typed structurally: the app injects its own
 * `onnxruntime-node` or `onnxruntime-web` module, and the runtime never imports either.
 *
 * @example
 * import * as ort from 'onnxruntime-web';
 * const model = await SortedModel.load('/model.onnx', { ort }); // ort satisfies OrtLike
 */

export interface OrtTensorLike {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, any>): Promise<Record<string, any>>;
  release(): Promise<void>;
}

export interface OrtLike {
  InferenceSession: { create(model: Uint8Array, options?: any): Promise<OrtSessionLike> };
  Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]) => OrtTensorLike;
}

/** The tensor type of an injected ORT module (falls back to the structural type). */
export type TensorOf<O> = O extends { Tensor: new (...args: any[]) => infer T } ? T : OrtTensorLike;
