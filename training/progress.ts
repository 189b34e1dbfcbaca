/**
 * Progress events from `train()`, and the CLI's reporter: a cli-progress bar on a TTY
 * (on stderr, so stdout stays clean for the table), or one log line every few seconds and
 * at each epoch otherwise.
 *
 * @example
 * const reporter = new ProgressReporter();
 * await train({ onProgress: (e) => reporter.on(e) });
 * // step 200/4690 | epoch 1/10 | loss 0.4512 | lr 2.00e-3 | 9.8 steps/s | eta 7m38s
 */
import cliProgress from 'cli-progress';
import type { SubnetSpec } from './spec.js';

export type TrainEvent =
  | {
      type: 'start'; backend: string; totalSteps: number; stepsPerEpoch: number; epochs: number; subnets: number; train: number; test: number;
      /** Steps already done when the run resumed from a resume file. */
      resumedAt?: number;
    }
  | {
      type: 'step';
      /** Steps done, 1-based. */
      step: number;
      totalSteps: number;
      epoch: number;
      /** Mean loss of the subnets sampled this step. */
      loss: number;
      lr: number;
      /** Over the last 50 steps. */
      stepsPerSec: number;
      etaSec: number;
      /** Ids of the subnets that trained this step. */
      subnets: string[];
    }
  | { type: 'epoch'; epoch: number; epochs: number; trainLoss: number; checks: SubnetSpec[] }
  | { type: 'eval'; subnets: SubnetSpec[] }
  | { type: 'done'; seconds: number; files?: { checkpoint: string; plot: string } };

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface ReporterOptions {
  /** Where bar and log lines go. @defaultValue process.stderr */
  stream?: NodeJS.WriteStream;
  /** Draw a bar; otherwise log lines. @defaultValue stream.isTTY */
  bar?: boolean;
  /** Seconds between log lines without a bar. @defaultValue 10 */
  logEverySec?: number;
}

export class ProgressReporter {
  private readonly stream: NodeJS.WriteStream;
  private readonly useBar: boolean;
  private readonly logEveryMs: number;
  private bar: cliProgress.SingleBar | undefined;
  private lastLog = 0;
  private smoothLoss = NaN;

  constructor(opts: ReporterOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.useBar = opts.bar ?? Boolean(this.stream.isTTY);
    this.logEveryMs = (opts.logEverySec ?? 10) * 1000;
  }

  private line(text: string): void {
    if (this.bar) this.bar.stop();
    this.stream.write(`${text}\n`);
    this.bar = undefined;
  }

  on(e: TrainEvent): void {
    switch (e.type) {
      case 'start':
        this.line(`train: ${e.subnets} subnets, ${e.train} train / ${e.test} test examples, ${e.epochs} epochs x ${e.stepsPerEpoch} steps on ${e.backend}${e.resumedAt ? `, resuming after step ${e.resumedAt}` : ''}`);
        this.lastLog = performance.now();
        break;
      case 'step': {
        this.smoothLoss = Number.isNaN(this.smoothLoss) ? e.loss : 0.95 * this.smoothLoss + 0.05 * e.loss;
        const payload = { loss: this.smoothLoss.toFixed(4), rate: e.stepsPerSec.toFixed(1), eta_h: formatDuration(e.etaSec), ep: `${e.epoch}` };
        if (this.useBar) {
          if (!this.bar) {
            this.bar = new cliProgress.SingleBar({
              stream: this.stream,
              format: 'epoch {ep} [{bar}] {value}/{total} | loss {loss} | {rate} steps/s | eta {eta_h}',
              hideCursor: true,
              clearOnComplete: true,
            }, cliProgress.Presets.shades_classic);
            this.bar.start(e.totalSteps, e.step - 1, payload);
          }
          this.bar.update(e.step, payload);
        } else if (performance.now() - this.lastLog >= this.logEveryMs || e.step === e.totalSteps) {
          this.lastLog = performance.now();
          this.stream.write(`step ${e.step}/${e.totalSteps} | epoch ${e.epoch} | loss ${payload.loss} | lr ${e.lr.toExponential(2)} | ${payload.rate} steps/s | eta ${payload.eta_h}\n`);
        }
        break;
      }
      case 'epoch': {
        const checks = e.checks.map((c) => `${c.id} ${((c.metrics.accuracy ?? NaN) * 100).toFixed(2)}%`).join(', ');
        this.line(`epoch ${e.epoch}/${e.epochs} | train loss ${e.trainLoss.toFixed(4)}${checks ? ` | test ${checks}` : ''}`);
        break;
      }
      case 'eval':
        this.line(`evaluated ${e.subnets.length} subnets`);
        break;
      case 'done':
        this.line(`done in ${formatDuration(e.seconds)}${e.files ? `: wrote ${e.files.checkpoint} and ${e.files.plot}` : ''}`);
        break;
    }
  }

  /** Stop the bar (e.g. on error) so the terminal is left clean. */
  close(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
