import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SortedNetError } from '../../runtime/errors.js';
import { SortedModel, type Calibration, type ProgressEvent } from '../../runtime/index.js';
import { LatencyEstimator, STALE_MS, WINDOW } from '../../runtime/latency.js';
import { maxAbsDiff, randomArray, referenceForward, rng } from '../packager/fixture.js';
import { BACKENDS, CKPT, CONFIG, LATENCY, PACKED } from './backends.js';

const { bytes, manifest } = PACKED;
const x = randomArray(CONFIG.inputSize, rng(7));
const feeds = { input: { data: x, dims: [1, CONFIG.inputSize] } };
/** A saved calibration with nothing observed: loads skip timing, and estimates learn from calls. MACs dominate, so subnets differ. */
const SLOPE = { overheadMs: 0.001, msPerMac: 1e-4 };
const CALIBRATION: Calibration = { format: 'sortednet-calibration', version: 2, latency: SLOPE, observed: {} };
const [small, mid, big] = [manifest.subnets[0]!, manifest.subnets[5]!, manifest.subnets.at(-1)!];

void describe('LatencyEstimator (p95 of recent calls per subnet)', () => {
  void it('estimates the p95 of a subnet\'s calls, and shifts unobserved subnets by the typical ratio', () => {
    const est = new LatencyEstimator(LATENCY);
    assert.equal(est.latencyMs(big), est.base(big), 'before any call: the calibrated model');
    const times = Array.from({ length: 100 }, (_, i) => (4 + (i % 20) / 20) * est.base(big)); // 4x..4.95x, evenly
    for (const ms of times) est.observe(big, 1, ms);
    assert.equal(est.latencyMs(big), [...times].sort((a, b) => a - b)[94], 'exactly the p95 of the calls');
    const r = est.latencyMs(small) / est.base(small);
    assert.ok(r > 4.7 && r < 5, `unobserved subnets use the latest observed p95/model ratio: ${r}`);
    assert.equal(est.source(big), 'observed');
    assert.equal(est.source(small), 'calibration');
    assert.equal(est.source(big, 32), 'calibration', 'each batch size has its own calls');
  });

  void it('ignores one stall and follows a lasting 4x slowdown within 5 % of the window', () => {
    const est = new LatencyEstimator(LATENCY);
    for (let i = 0; i < WINDOW; i++) est.observe(mid, 1, (1 + (i % 5) / 50) * est.base(mid));
    const p95 = est.latencyMs(mid);
    est.observe(mid, 1, 100 * est.base(mid)); // one 100x stall
    assert.equal(est.latencyMs(mid), p95, 'a stall is not a trend');
    for (let i = 0; i < WINDOW / 20; i++) est.observe(mid, 1, 4 * est.base(mid)); // throttled 4x
    assert.ok(est.latencyMs(mid) / p95 > 3.5, 'the p95 shows the slowdown');
  });

  void it('keeps the last WINDOW calls', () => {
    const est = new LatencyEstimator(LATENCY);
    for (let i = 0; i < WINDOW; i++) est.observe(mid, 1, 1);
    for (let i = 0; i < WINDOW; i++) est.observe(mid, 1, 1.1); // the older calls have left the window
    assert.equal(est.latencyMs(mid), 1.1);
    assert.equal(est.calibration().observed[`${mid.id}@1`]!.length, WINDOW);
    for (let i = 0; i < 50; i++) est.observe(mid, 1, 2 + i / 100);
    const saved = est.calibration().observed[`${mid.id}@1`]!;
    assert.deepEqual(saved.slice(-51), [1.1, ...Array.from({ length: 50 }, (_, i) => Number((2 + i / 100).toPrecision(4)))], 'saved oldest first, in call order');
  });

  void it('gives the exact p95 of the last WINDOW calls (or the latest 8 calls\' median if higher) however calls and estimates interleave', () => {
    const est = new LatencyEstimator(LATENCY);
    const rand = rng(11);
    const seen: number[] = [];
    // Gaps of 0-3 calls between estimates (sorted catches up one sample at a time), and runs of
    // more than WINDOW calls without one (rebuilt from the ring).
    for (let step = 0; step < 60; step++) {
      const calls = step % 10 === 9 ? WINDOW + 37 : Math.floor(rand() * 4);
      for (let i = 0; i < calls; i++) {
        const ms = 0.1 + Math.round(rand() * 50) / 10; // ties too (positive: a 0 ms call is not a time)
        seen.push(ms);
        est.observe(mid, 1, ms);
      }
      const last = seen.slice(-WINDOW).sort((a, b) => a - b);
      const recent = seen.slice(-8).sort((a, b) => a - b);
      const want = Math.max(last[Math.ceil(0.95 * last.length) - 1]!, recent[(recent.length - 1) >> 1]!);
      if (last.length >= 5) assert.equal(est.latencyMs(mid), want, `after ${seen.length} calls`);
    }
  });

  void it('follows a lasting slowdown after 5 slow calls, and ignores 4', () => {
    const est = new LatencyEstimator(LATENCY);
    const rand = rng(13);
    for (let i = 0; i < WINDOW; i++) est.observe(mid, 1, 1 + rand() / 10);
    const steady = est.latencyMs(mid);
    for (let i = 0; i < 4; i++) est.observe(mid, 1, 4 + rand() / 10);
    assert.ok(est.latencyMs(mid) < 1.2 * steady, `4 slow calls of the latest 8: about the steady p95 still (${est.latencyMs(mid)} against ${steady})`);
    est.observe(mid, 1, 4 + rand() / 10);
    assert.ok(est.latencyMs(mid) > 3.5 * steady, `5 of 8: the slow calls' median (${est.latencyMs(mid)} against ${steady})`);
    for (let i = 0; i < 8; i++) est.observe(mid, 1, 1 + rand() / 10);
    assert.ok(est.latencyMs(mid) < 1.2 * steady, 'back to speed after 5 slow calls: 5 of 200 are not the p95 either, so the estimate returns');
  });

  void it('keeps one window per batch size when calls alternate between them', () => {
    const est = new LatencyEstimator(LATENCY);
    const rand = rng(12);
    const seen = new Map<number, number[]>([[1, []], [4, []]]);
    for (let i = 0; i < 3 * WINDOW; i++) {
      const batch = rand() < 0.5 ? 1 : 4;
      const ms = batch * (1 + rand());
      seen.get(batch)!.push(ms);
      est.observe(mid, batch, ms);
      if (i % 7 === 0) est.latencyMs(mid, 4); // one window read often, the other only at the end
    }
    for (const [batch, xs] of seen) {
      const last = xs.slice(-WINDOW).sort((a, b) => a - b);
      assert.equal(est.latencyMs(mid, batch), last[Math.ceil(0.95 * last.length) - 1], `batch ${batch}`);
    }
  });

  void it('forgets a window after STALE_MS without calls, so selection can return to a subnet once a slowdown ends', () => {
    let clock = 0;
    const est = new LatencyEstimator(LATENCY, undefined, true, () => clock);
    for (let i = 0; i < WINDOW; i++) est.observe(big, 1, 4 * est.base(big)); // big ran during a 4x slowdown
    for (let i = 0; i < WINDOW; i++, clock += 200) est.observe(small, 1, est.base(small)); // then only small, 40 s, at full speed
    assert.ok(clock > STALE_MS);
    assert.equal(est.source(big), 'calibration', 'the slow window no longer speaks for big');
    assert.equal(est.latencyMs(big), est.base(big), 'big is estimated at the device speed that small sees now (1x)');
    assert.equal(est.source(small), 'observed', 'small was called all along');
    est.observe(big, 1, 1.1 * est.base(big));
    assert.equal(est.source(big), 'calibration', 'one new call starts a fresh window (MIN_CALLS to count)');
    for (let i = 0; i < 4; i++) est.observe(big, 1, 1.1 * est.base(big));
    assert.ok(Math.abs(est.latencyMs(big) / est.base(big) - 1.1) < 1e-9, 'only the new calls count');
  });

  void it('round-trips through model.calibration JSON', () => {
    const est = new LatencyEstimator(LATENCY);
    for (let i = 0; i < 8; i++) est.observe(mid, 2, (3 + i / 10) * est.base(mid, 2));
    const saved = JSON.parse(JSON.stringify(est.calibration())) as Calibration;
    const again = new LatencyEstimator(saved.latency, saved);
    assert.ok(Math.abs(again.latencyMs(mid, 2) / est.latencyMs(mid, 2) - 1) < 1e-3);
    assert.equal(again.latencyMs(small), again.base(small), 'unobserved: the model until a call is seen');
  });
});

for (const { name, ort } of BACKENDS) {
  void describe(`budgets on ${name}`, () => {
    const events: ProgressEvent[] = [];
    let model: SortedModel<typeof ort>;
    before(async () => {
      model = await SortedModel.load(bytes, { ort, calibration: CALIBRATION, onProgress: (e) => events.push(e) });
    });
    after(() => model.release());

    void it('a saved calibration skips timing: only the chosen subnet is built', () => {
      assert.deepEqual(model.cachedSubnets, [big.id]);
      assert.deepEqual(model.latencyModel, SLOPE);
      assert.deepEqual(events.map((e) => e.status), [...manifest.subnets.map(() => 'subnet-ready'), 'ready'], 'a buffer holds every subnet at once');
    });

    void it('selection follows observed times: a slower device picks a smaller subnet for the same budget', async () => {
      const budget = { latencyMs: 1.05 * model.subnets.find((s) => s.id === big.id)!.estimate.latencyMs };
      assert.equal(model.select(budget).id, big.id);
      // What 20 calls under a 4x CPU throttle teach the estimator, saved and loaded back.
      const est = new LatencyEstimator(SLOPE);
      for (let i = 0; i < 20; i++) est.observe(big, 1, 4 * est.base(big));
      const slow = await SortedModel.load(bytes, { ort, calibration: JSON.parse(JSON.stringify(est.calibration())) as Calibration, subnet: small.id });
      assert.notEqual(slow.select(budget).id, big.id);
      assert.ok(slow.calibration.observed[`${big.id}@1`]!.length >= 20, 'a reloaded calibration keeps what was learned');
      await slow.release();
      await model.run(feeds, { subnet: mid.id });
      await model.run(feeds, { subnet: mid.id });
      assert.equal(model.calibration.observed[`${mid.id}@1`]?.length, 1, 'calls feed the estimates (the first run of a session is skipped)');
    });

    void it('explain() lists each subnet\'s estimates against the budget, what fails, and the choice', () => {
      const budget = { latencyMs: model.subnets[3]!.estimate.latencyMs, minAccuracy: 0.6 };
      const e = model.explain(budget);
      assert.equal(e.chosen, model.select(budget).id);
      assert.match(e.reason, new RegExp(`^${e.chosen}: the most accurate of \\d+ subnets within budget \\(accuracy [\\d.]+\\), estimated [\\d.]+ ms`));
      const fail = e.subnets.find((s) => !s.fits)!;
      assert.ok(fail.fails.length > 0 && /^(latencyMs: [\d.]+ ms \(estimated\) > [\d.]+|minAccuracy: [\d.]+ < 0\.6)$/.test(fail.fails[0]!), fail.fails[0]);
      assert.equal(e.subnets.length, manifest.subnets.length);
      const none = model.explain({ minAccuracy: 0.99 });
      assert.equal(none.chosen, undefined);
      assert.match(none.reason, /IMPOSSIBLE|no subnet meets minAccuracy 0\.99/);
    });

    void it('onImpossible: throw (default) or run the smallest subnet and emit a warning event', async () => {
      await assert.rejects(model.run(feeds, { budget: { minAccuracy: 0.99 } }), (err: unknown) => err instanceof SortedNetError && err.code === 'IMPOSSIBLE_BUDGET');
      const out = await model.run(feeds, { budget: { minAccuracy: 0.99 }, onImpossible: 'smallest' });
      assert.ok(maxAbsDiff(out.logits!.data as Float32Array, referenceForward(CKPT, small.levels, x, 1)) < 1e-4);
      const warning = events.at(-1)!;
      assert.equal(warning.status, 'warning');
      assert.ok(warning.status === 'warning' && warning.code === 'IMPOSSIBLE_BUDGET' && warning.subnet === small.id && /using the smallest subnet/.test(warning.message));
      const m = await SortedModel.load(bytes, { ort, calibration: CALIBRATION, budget: { minAccuracy: 0.99 }, onImpossible: 'smallest' });
      assert.equal(m.subnet.id, small.id);
      await m.release();
    });

    void it('a per-call budget keeps its subnet for 200 calls, recognised by its fields however it is written', async () => {
      const warnings = (): number => events.filter((e) => e.status === 'warning').length;
      const start = warnings();
      // Impossible with onImpossible 'smallest': each re-choice emits a warning, each kept call does not.
      for (let i = 0; i < 420; i++) {
        const budget = i % 2 ? { minAccuracy: 0.99, memoryMB: 1e6 } : { memoryMB: 1e6, minAccuracy: 0.99 }; // a fresh literal, either key order
        await model.run(feeds, { budget, onImpossible: 'smallest' });
      }
      assert.equal(warnings() - start, 3, 'chosen at calls 1, 201 and 401');
      await model.run(feeds, { budget: { minAccuracy: 0.99, memoryMB: 1e5 }, onImpossible: 'smallest' });
      assert.equal(warnings() - start, 4, 'a changed field is a new budget');
      await model.run(feeds, { budget: { minAccuracy: 0.99, memoryMB: 1e5, latencyMs: undefined }, onImpossible: 'smallest' });
      assert.equal(warnings() - start, 5, 'so is an added field');
      await assert.rejects(model.run(feeds, { budget: { minAccuracy: 0.99, memoryMB: 1e5, latencyMS: 1 } as never, onImpossible: 'smallest' }), /run\(\)\.budget\.latencyMS: unknown key "latencyMS"\. Fix: did you mean "latencyMs"\?/);
    });

    void it('rejects a calibration that is not one, naming the field', async () => {
      const bad = { ...CALIBRATION, latency: { overheadMs: 0.1, msPerMAC: 1 } };
      await assert.rejects(SortedModel.load(bytes, { ort, calibration: bad as unknown as Calibration }), /load\(\)\.calibration\.latency\.msPerMAC: unknown key "msPerMAC"\. Fix: did you mean "msPerMac"\?/);
    });
  });
}
