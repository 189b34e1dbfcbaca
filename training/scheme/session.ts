/**
 * The resume plumbing a training loop shares: open the resume file when resuming, merge its
 * config, restore optimizer, RNG and data order, save a snapshot every N steps, and remove the
 * file once the final checkpoint is written. Also the loop's step timer and loss check.
 *
 * @example
 * const session = await ResumeSession.open('mlp', { out, resume });
 * const config = resolveConfig(session.config(partial));
 * session.start(config.checkpointEvery);
 * const from = session.restore({ optimizer, variables, names, rng, order, data }, fix); // { step: 120, losses, loop }
 * for (...) { ...; if (session.due(step + 1)) await session.save(parts, progress, spec); }
 * await session.finish();
 */
import { rm } from 'node:fs/promises';
import type * as tf from '@tensorflow/tfjs-core';
import { SortedNetError } from '../../runtime/errors.js';
import type { Rng } from '../rng.js';
import type { Arch, SortedSpec } from '../spec.js';
import type { AdamW } from './adamw.js';
import { RUN_ONLY_KEYS } from './config.js';
import { checkOptimizerState, checkResumeData, readResume, resumeConfig, resumePath, writeResume, type ResumeSnapshot } from './resume.js';

/** The live objects a snapshot is read from and restored into. */
export interface TrainingParts {
  optimizer: AdamW;
  variables: tf.Variable[];
  /** Checkpoint names, parallel to `variables`. */
  names: string[];
  rng: Rng;
  /** The example order of the current epoch (classifiers); restored in place. */
  order?: Uint32Array;
  /** Training examples (tokens) and their sha256. */
  data: { train: number; sha256: string };
}

/** Where a loop stands. */
export interface Progress {
  step: number;
  totalSteps: number;
  config: object;
  losses: number[];
  loop: Record<string, number>;
  tokenizer?: Record<string, unknown>;
}

export class ResumeSession {
  private every = 0;

  private constructor(
    readonly arch: Arch,
    /** The resume file (`<out>.resume.safetensors`), when there is an `out`. */
    readonly path: string | undefined,
    /** What was read when resuming. */
    readonly resumed: (ResumeSnapshot & { spec: SortedSpec }) | undefined,
  ) {}

  /** Read and check the resume file if `resume` is set. */
  static async open(arch: Arch, opts: { out?: string; resume?: boolean }): Promise<ResumeSession> {
    const path = opts.out ? resumePath(opts.out) : undefined;
    if (opts.resume && !path) throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'resume', found: 'true without out', fix: 'give the out path of the run to resume (its resume file sits next to it)' });
    return new ResumeSession(arch, path, opts.resume ? await readResume(path!, arch) : undefined);
  }

  /** The partial config to resolve: the given one, or the resumed run's with the given run-only fields. */
  config<C extends object>(given: Partial<C>): Partial<C> {
    if (!this.resumed) return given;
    return resumeConfig<C>(this.resumed.state.config, given, RUN_ONLY_KEYS as unknown as (keyof C)[], this.path!);
  }

  /** Save every `every` steps from now on (0: never). */
  start(every: number): void {
    if (every > 0 && !this.path) throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'checkpointEvery', found: String(every), fix: 'give out (the resume file is written next to the checkpoint), or set checkpointEvery 0' });
    this.every = every;
  }

  /** Restore optimizer, RNG and order from the resume file; returns where to continue (step 0 when not resuming). */
  restore(parts: TrainingParts, dataFix: string): { step: number; losses: number[]; loop: Record<string, number> } {
    const r = this.resumed;
    if (!r) return { step: 0, losses: [], loop: {} };
    checkResumeData(r, parts.data, this.path!, dataFix);
    checkOptimizerState(r, parts.names, parts.variables.map((v) => v.size), this.path!);
    parts.optimizer.importState(r.optimizer, parts.variables, (_, i) => parts.names[i]!);
    parts.rng.setState(r.state.rng);
    if (parts.order) {
      if (!r.order) throw new SortedNetError({ code: 'BAD_CHECKPOINT', file: this.path!, field: 'data.order', found: 'missing', fix: 'start over without --resume' });
      parts.order.set(r.order);
    }
    return { step: r.state.step, losses: [...r.state.losses], loop: { ...r.state.loop } };
  }

  /** True when a snapshot is due after `stepsDone` steps. */
  due(stepsDone: number): boolean {
    return this.every > 0 && stepsDone % this.every === 0;
  }

  /** Write the snapshot atomically. `weights` are the model's checkpoint tensors. */
  async save(parts: TrainingParts, weights: ResumeSnapshot['weights'], p: Progress, spec: SortedSpec): Promise<void> {
    const { optimizer: o } = parts;
    await writeResume(this.path!, {
      state: {
        format: 'sortednet-resume', version: 1, arch: this.arch, step: p.step, totalSteps: p.totalSteps, config: { ...p.config },
        rng: parts.rng.getState(), optimizer: { name: 'adamw', beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon, weightDecay: o.weightDecay, step: o.step },
        losses: p.losses, loop: p.loop, data: parts.data, ...(p.tokenizer ? { tokenizer: p.tokenizer } : {}),
      },
      weights,
      optimizer: o.exportState(parts.variables, (_, i) => parts.names[i]!),
      order: parts.order,
    }, { ...spec, subnets: [] });
  }

  /** The run finished and its checkpoint is written: the resume file has served its purpose. */
  async finish(): Promise<void> {
    if (this.path && (this.every > 0 || this.resumed)) await rm(this.path, { force: true });
  }
}

/** Steps per second over the last 50 steps. */
export class StepTimer {
  private readonly recent: number[] = [];
  private readonly started = performance.now();

  tick(): number {
    const now = performance.now();
    this.recent.push(now);
    if (this.recent.length > 50) this.recent.shift();
    return this.recent.length > 1 ? ((this.recent.length - 1) * 1000) / (now - this.recent[0]!) : 1000 / (now - this.started);
  }

  /** Seconds since the timer started. */
  seconds(): number {
    return (performance.now() - this.started) / 1000;
  }
}

/** A non-finite loss stops the run with the fix. */
export function checkLoss(loss: number, step: number, lr: number): void {
  if (!Number.isFinite(loss)) throw new SortedNetError({ code: 'BAD_OPTION', file: '<api>', field: 'lr', found: `loss ${loss} at step ${step}`, fix: `lower the learning rate (now ${lr})` });
}
