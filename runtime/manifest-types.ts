/**
 * Manifest types and closed vocabularies (docs/manifest.md). Kept apart from the reader and
 * validator so both can import them without a cycle.
 *
 * @example
 * const levels: Levels = { depth: 2, width: 0.5 };
 * DIMS.includes('width'); // true
 */

export const MANIFEST_KEY = 'sortednet';
export const MANIFEST_FORMAT = 'sortednet-manifest';
export const MANIFEST_VERSION = 1;

export type Dim = 'depth' | 'width' | 'heads' | 'ffn';
export const DIMS: readonly Dim[] = ['depth', 'width', 'heads', 'ffn'];
export type Arch = 'mlp' | 'cnn' | 'gpt';
export const ARCHS: readonly Arch[] = ['mlp', 'cnn', 'gpt'];
/** Element types: float32 weights and activations, int64 token ids. */
export type DType = 'float32' | 'int64';
export const DTYPES: readonly DType[] = ['float32', 'int64'];
/** One level per dim, e.g. `{ depth: 2, width: 0.5 }`. */
export type Levels = Partial<Record<Dim, number>>;

/** One stored tensor: where its raw little-endian bytes lie in the file. */
export interface TensorEntry {
  name: string;
  dims: number[];
  dtype: DType;
  /** Byte offset of the raw data from the start of the file. */
  offset: number;
  /** Bytes of raw data. */
  length: number;
}

/** A graph input or output; a string dim is symbolic (e.g. `batch`). */
export interface IoEntry {
  name: string;
  dtype: DType;
  dims: (number | string)[];
}

export interface SubnetMetrics {
  accuracy?: number;
  loss?: number;
  perplexity?: number;
}

export interface SubnetEntry {
  id: string;
  levels: Levels;
  /** Parameters the subnet uses. */
  params: number;
  /** Bytes of the stored tensors the subnet uses. */
  bytes: number;
  /** Multiply-accumulates per example. */
  macs: number;
  /** Activation bytes per example (rough peak, for memory estimates). */
  activations: number;
  /** File bytes from the start needed to run this subnet. */
  prefixBytes: number;
  metrics: SubnetMetrics;
  /** Measured latency per example at pack time, when calibrated. */
  latencyMs?: number;
}

/**
 * A run of file bytes and its SHA-256, so a download is verified piece by piece. Segment 0
 * starts where the manifest entry ends; each next one where the previous one ends.
 */
export interface SegmentEntry {
  /** Byte offset just past the segment; every subnet's `prefixBytes` is one of these. */
  end: number;
  /** Lowercase hex SHA-256 of the segment's bytes. */
  sha256: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  arch: Arch;
  /** Architecture config, e.g. `{ inputSize, hidden, classes }` for mlp. */
  config: Record<string, number>;
  /** Allowed levels per dim, ascending. */
  dims: Partial<Record<Dim, number[]>>;
  /** ONNX default-domain opset the subnet graphs use. */
  opset: number;
  inputs: IoEntry[];
  outputs: IoEntry[];
  /** Stored tensors in file order. */
  tensors: TensorEntry[];
  /** Smallest first: a linear order compatible with nesting. */
  subnets: SubnetEntry[];
  /** File segments with SHA-256 hashes, ending at each distinct `prefixBytes` and at the end of the file. */
  segments?: SegmentEntry[];
  /** Data the metrics were measured on. */
  data?: { name: string; source: string; train: number; test: number };
  /** Tool that wrote the file, e.g. `sortednet 0.1.0`. */
  producer?: string;
}

