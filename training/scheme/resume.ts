/**
 * Resume files: everything a training loop needs to continue a run exactly where it stopped,
 * as one safetensors file written atomically every N steps next to the checkpoint
 * (`model.safetensors` -> `model.resume.safetensors`). See docs/checkpoint.md.
 *
 * Tensors: the weights under their checkpoint names, Adam's moments as `optimizer.m.<name>`
 * and `optimizer.v.<name>`, and the epoch's example order as `data.order` (classifiers).
 * `__metadata__` holds the `sortednet` spec (no subnets yet), the loop state as JSON under
 * `sortednet.resume` (step, RNG words, losses so far, config, a hash of the training data) and
 * a sha256 over that JSON and every tensor under `sortednet.resume.sha256`, so a damaged file
 * is refused instead of silently continuing from garbage.
 *
 * @example
 * await writeResume('model.resume.safetensors', snapshot, spec);
 * const back = await readResume('model.resume.safetensors', 'mlp'); // same step, RNG, weights, moments
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { SortedNetError } from '../../runtime/errors.js';
import { encodeCheckpoint, readCheckpoint, writeFileAtomic, type NamedTensor } from '../checkpoint.js';
import type { Arch, SortedSpec } from '../spec.js';
import type { AdamWState } from './adamw.js';

export const RESUME_KEY = 'sortednet.resume';
export const RESUME_HASH_KEY = 'sortednet.resume.sha256';
const M = 'optimizer.m.';
const V = 'optimizer.v.';
const ORDER = 'data.order';

/** The loop state stored as JSON under `__metadata__["sortednet.resume"]`. */
export interface ResumeState {
  format: 'sortednet-resume';
  version: 1;
  arch: Arch;
  /** Optimizer steps done; the run continues with step `step` (0-based). */
  step: number;
  totalSteps: number;
  /** The resolved training config of the run. */
  config: Record<string, unknown>;
  /** The seeded generator's four words after step `step`. */
  rng: number[];
  /** Adam hyper-parameters and its update count t (the moments are tensors). */
  optimizer: { name: 'adamw'; beta1: number; beta2: number; epsilon: number; weightDecay: number; step: number };
  /** Loss of every step so far. */
  losses: number[];
  /** Loop scalars, e.g. the running loss of the current epoch. */
  loop: Record<string, number>;
  /** The training data it ran on: examples (tokens for a language model) and their sha256. */
  data: { train: number; sha256: string };
  /** Language models: the tokenizer trained at the start, reused on resume. */
  tokenizer?: Record<string, unknown>;
}

export interface ResumeSnapshot {
  state: ResumeState;
  /** Model tensors under their checkpoint names. */
  weights: Record<string, NamedTensor>;
  /** Adam's moments under the same names; `step` mirrors `state.optimizer.step`. */
  optimizer: AdamWState;
  /** This epoch's example order (classifiers). */
  order?: Uint32Array;
}

/** `model.safetensors` -> `model.resume.safetensors` (any other name gets the suffix appended). */
export function resumePath(out: string): string {
  return `${out.endsWith('.safetensors') ? out.slice(0, -'.safetensors'.length) : out}.resume.safetensors`;
}

/** sha256 (hex) of typed arrays' bytes, in order: a fingerprint of training data. */
export function sha256Of(...parts: ArrayBufferView[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  return h.digest('hex');
}

function hashOf(stateJson: string, tensors: Record<string, NamedTensor>): string {
  const h = createHash('sha256').update(stateJson);
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]!;
    h.update(`\n${name}${JSON.stringify(t.dims)}\n`).update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
}

/** The resume file's bytes; `spec` is the run's spec so far (`subnets` may be empty). */
export function encodeResume(snap: ResumeSnapshot, spec: SortedSpec): Uint8Array {
  const tensors: Record<string, NamedTensor> = { ...snap.weights };
  for (const [name, data] of Object.entries(snap.optimizer.m)) tensors[M + name] = { dims: [...snap.weights[name]!.dims], data };
  for (const [name, data] of Object.entries(snap.optimizer.v)) tensors[V + name] = { dims: [...snap.weights[name]!.dims], data };
  // Indices below 2^24 are exact in float32 (the format stores F32 only).
  if (snap.order) tensors[ORDER] = { dims: [snap.order.length], data: Float32Array.from(snap.order) };
  const stateJson = JSON.stringify({ ...snap.state, optimizer: { ...snap.state.optimizer, step: snap.optimizer.step } });
  return encodeCheckpoint({ spec, tensors, metadata: { [RESUME_KEY]: stateJson, [RESUME_HASH_KEY]: hashOf(stateJson, tensors) } });
}

/** Write atomically (temp file, then rename): a kill mid-write leaves the previous resume file intact. */
export async function writeResume(path: string, snap: ResumeSnapshot, spec: SortedSpec): Promise<void> {
  await writeFileAtomic(path, encodeResume(snap, spec));
}

/** Read and check a resume file written for `arch`; every failure is a SortedNetError naming the file and field. */
export async function readResume(path: string, arch: Arch): Promise<ResumeSnapshot & { spec: SortedSpec }> {
  try {
    await fs.access(path);
  } catch (err) {
    throw new SortedNetError({ code: 'IO', file: path, field: '(file)', found: 'no resume file', fix: 'train with --checkpoint-every N (and the same --out) first, or drop --resume', cause: err });
  }
  const ckpt = await readCheckpoint(path);
  const fail = (field: string, found: string, fix = 'the resume file is damaged; start over without --resume (the last checkpoint is untouched)'): never => {
    throw new SortedNetError({ code: 'BAD_CHECKPOINT', file: path, field, found, fix });
  };
  const meta = ckpt.metadata ?? {};
  const stateJson = meta[RESUME_KEY] ?? fail(`__metadata__.${RESUME_KEY}`, 'missing', 'pass the *.resume.safetensors file written by --checkpoint-every, not a finished checkpoint');
  if (meta[RESUME_HASH_KEY] !== hashOf(stateJson, ckpt.tensors)) fail(`__metadata__.${RESUME_HASH_KEY}`, 'does not match the file contents (corrupt or edited)');
  let state: ResumeState;
  try {
    state = JSON.parse(stateJson) as ResumeState;
  } catch {
    return fail(`__metadata__.${RESUME_KEY}`, 'JSON that does not parse');
  }
  if (state.format !== 'sortednet-resume' || state.version !== 1) fail(`${RESUME_KEY}.version`, JSON.stringify(state.version), 'this sortednet resumes version 1 files; start over without --resume');
  if (state.arch !== arch) fail(`${RESUME_KEY}.arch`, `${JSON.stringify(state.arch)}, this run trains ${arch}`, `resume with --arch ${state.arch}`);
  const int = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  if (!int(state.totalSteps) || !int(state.step) || state.step > state.totalSteps) fail(`${RESUME_KEY}.step`, `${state.step} of ${state.totalSteps}`);
  if (!Array.isArray(state.losses) || state.losses.length !== state.step) fail(`${RESUME_KEY}.losses`, `${state.losses?.length} losses for ${state.step} steps`);
  if (!Array.isArray(state.rng) || state.rng.length !== 4 || !state.rng.every(Number.isInteger)) fail(`${RESUME_KEY}.rng`, JSON.stringify(state.rng));
  if (state.optimizer?.name !== 'adamw' || !int(state.optimizer.step)) fail(`${RESUME_KEY}.optimizer`, JSON.stringify(state.optimizer));
  if (typeof state.config !== 'object' || state.config === null) fail(`${RESUME_KEY}.config`, JSON.stringify(state.config));
  const weights: Record<string, NamedTensor> = {};
  const optimizer: AdamWState = { step: state.optimizer.step, m: {}, v: {} };
  let order: Uint32Array | undefined;
  for (const [name, t] of Object.entries(ckpt.tensors)) {
    if (name.startsWith(M)) optimizer.m[name.slice(M.length)] = t.data;
    else if (name.startsWith(V)) optimizer.v[name.slice(V.length)] = t.data;
    else if (name === ORDER) order = Uint32Array.from(t.data);
    else weights[name] = t;
  }
  if (order && !isPermutation(order)) fail(ORDER, 'not a permutation of the training examples');
  return { spec: ckpt.spec, state, weights, optimizer, order };
}

function isPermutation(order: Uint32Array): boolean {
  const seen = new Uint8Array(order.length);
  for (const i of order) {
    if (i >= order.length || seen[i]) return false;
    seen[i] = 1;
  }
  return true;
}

/** Check that every variable has both moments of the right size (before importing them). */
export function checkOptimizerState(snap: ResumeSnapshot, names: readonly string[], sizes: readonly number[], file: string): void {
  names.forEach((name, i) => {
    for (const [which, store] of [['m', snap.optimizer.m], ['v', snap.optimizer.v]] as const) {
      const data = store[name];
      if (!data || data.length !== sizes[i]) {
        throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field: `optimizer.${which}.${name}`, found: data ? `${data.length} values, expected ${sizes[i]}` : 'missing', fix: 'the resume file does not match this model; start over without --resume' });
      }
    }
  });
}

/** The resumed run must train on the same data: same count, same bytes. */
export function checkResumeData(snap: ResumeSnapshot, data: { train: number; sha256: string }, file: string, fix: string): void {
  const saved = snap.state.data;
  if (saved?.train !== data.train || saved.sha256 !== data.sha256) {
    throw new SortedNetError({ code: 'BAD_DATA', file, field: `${RESUME_KEY}.data`, found: `the run was on ${saved?.train} training examples (sha256 ${saved?.sha256?.slice(0, 12)}), this one has ${data.train} (sha256 ${data.sha256.slice(0, 12)})`, fix });
  }
  if (snap.order && snap.order.length !== data.train) {
    throw new SortedNetError({ code: 'BAD_CHECKPOINT', file, field: ORDER, found: `${snap.order.length} entries for ${data.train} examples`, fix });
  }
}

/**
 * The config a resumed run uses: the file's, except the `runOnly` fields (where to run, how
 * often to save), which `given` may change. Any other given field must equal the file's.
 */
export function resumeConfig<C extends object>(saved: Record<string, unknown>, given: Partial<C>, runOnly: readonly (keyof C)[], file: string): Partial<C> {
  const out: Record<string, unknown> = { ...saved };
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (runOnly.includes(key as keyof C)) {
      out[key] = value;
    } else if (JSON.stringify(value) !== JSON.stringify(saved[key])) {
      throw new SortedNetError({ code: 'BAD_OPTION', file, field: key, found: `${JSON.stringify(value)}, but the run being resumed has ${JSON.stringify(saved[key])}`, fix: 'drop the setting (a resumed run keeps its config) or start over without --resume' });
    }
  }
  return out as Partial<C>;
}
