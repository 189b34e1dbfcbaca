/**
 * One ORT session per subnet, created on first use from the bytes the subnet needs, cached
 * (least recently used first out, beyond `cacheMB`), with runs on each session serialized
 * (onnxruntime-web requires it).
 *
 * @example
 * const cache = new SessionCache(ort, source, manifest, {});
 * const outputs = await cache.run(manifest.subnets[0], feeds);
 */
import { SortedNetError } from './errors.js';
import type { Manifest, SubnetEntry } from './manifest-types.js';
import type { OrtLike, OrtSessionLike } from './ort.js';
import type { ByteSource } from './source.js';
import { subnetModel } from './subnet.js';

interface Slot {
  subnet: SubnetEntry;
  session: Promise<OrtSessionLike>;
  /** Tail of this session's run queue. */
  queue: Promise<unknown>;
  lastUsed: number;
}

export class SessionCache {
  private readonly slots = new Map<string, Slot>();
  private clock = 0;

  constructor(
    private readonly ort: OrtLike,
    private readonly source: ByteSource,
    private readonly manifest: Manifest,
    private readonly options: { sessionOptions?: Record<string, unknown>; cacheMB?: number },
  ) {}

  /** Ids with a live (or loading) session, least recently used first. */
  get cached(): string[] {
    return [...this.slots.values()].sort((a, b) => a.lastUsed - b.lastUsed).map((s) => s.subnet.id);
  }

  private async create(subnet: SubnetEntry): Promise<OrtSessionLike> {
    const bytes = await this.source.prefix(subnet.prefixBytes);
    const model = subnetModel(this.manifest, bytes, subnet.id, this.source.name);
    try {
      return await this.ort.InferenceSession.create(model, this.options.sessionOptions ?? {});
    } catch (err) {
      throw new SortedNetError({
        code: 'BAD_ONNX',
        file: this.source.name,
        field: `subnet ${subnet.id}`,
        found: `onnxruntime could not create a session: ${(err as Error).message}`,
        fix: 'check sessionOptions (execution providers) and that the file is not corrupt',
        cause: err,
      });
    }
  }

  /** The subnet's session, created if needed. */
  session(subnet: SubnetEntry): Promise<OrtSessionLike> {
    return this.slot(subnet).session;
  }

  private slot(subnet: SubnetEntry): Slot {
    let slot = this.slots.get(subnet.id);
    if (!slot) {
      const session = this.create(subnet);
      const fresh: Slot = { subnet, session, queue: session.catch(() => undefined), lastUsed: 0 };
      this.slots.set(subnet.id, fresh);
      // A failed creation is not cached, so the next call retries.
      session.catch(() => this.slots.get(subnet.id) === fresh && this.slots.delete(subnet.id));
      slot = fresh;
      this.evict(subnet.id);
    }
    slot.lastUsed = ++this.clock;
    return slot;
  }

  /** Run on the subnet's session, after any run already queued on it. */
  run(subnet: SubnetEntry, feeds: Record<string, unknown>): Promise<Record<string, any>> {
    const slot = this.slot(subnet);
    const result = slot.queue.then(async () => (await slot.session).run(feeds));
    slot.queue = result.catch(() => undefined);
    return result;
  }

  /** Release least recently used sessions until the cached weights fit in `cacheMB`. */
  private evict(keep: string): void {
    const limit = (this.options.cacheMB ?? Infinity) * 2 ** 20;
    let total = [...this.slots.values()].reduce((a, s) => a + s.subnet.bytes, 0);
    for (const id of this.cached) {
      if (total <= limit) break;
      if (id === keep) continue;
      total -= this.slots.get(id)!.subnet.bytes;
      void this.drop(id);
    }
  }

  private drop(id: string): Promise<void> {
    const slot = this.slots.get(id)!;
    this.slots.delete(id);
    return slot.queue
      .then(async () => (await slot.session.catch(() => undefined))?.release())
      .catch(() => undefined);
  }

  async releaseAll(): Promise<void> {
    await Promise.all([...this.slots.keys()].map((id) => this.drop(id)));
  }
}
