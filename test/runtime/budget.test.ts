import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SortedNetError } from '../../runtime/errors.js';
import { SortedModel, type Calibration, type ProgressEvent } from '../../runtime/index.js';
import { EMA_ALPHA, LatencyEstimator } from '../../runtime/latency.js';
import { maxAbsDiff, randomArray, referenceForward, rng } from '../packager/fixture.js';
import { BACKENDS, CKPT, CONFIG, LATENCY, PACKED } from './backends.js';

const { bytes, manifest } = PACKED;
const x = randomArray(CONFIG.inputSize, rng(7));
const feeds = { input: { data: x, dims: [1, CONFIG.inputSize] } };
/** A saved calibration with nothing observed: loads skip timing, and estimates learn from calls. MACs dominate, so subnets differ. */
const SLOPE = { overheadMs: 0.001, msPerMac: 1e-4 };
const CALIBRATION: Calibration = { format: 'sortednet-calibration', version: 1, latency: SLOPE, observed: {} };
const [small, mid, big] = [manifest.subnets[0]!, manifest.subnets[5]!, manifest.subnets.at(-1)!];

void describe('LatencyEstimator (moving average per subnet)', () => {
  void it('learns a subnet\'s time and shifts unobserved subnets by the average correction', () => {
    const est = new LatencyEstimator(LATENCY);
    assert.equal(est.latencyMs(big), est.base(big), 'before any call: the calibrated model');
    for (let i = 0; i < 30; i++) est.observe(big, 1, 4 * est.base(big)); // four times slower, steadily
    const r = est.latencyMs(big) / est.base(big);
    assert.ok(r >= 3.9 && r < 5, `the estimate tracks the p95 of the observed 4x: ${r}`);
    assert.ok(est.latencyMs(small) / est.base(small) > 3.5, 'unobserved subnets follow the average');
    assert.equal(est.source(big), 'observed');
    assert.equal(est.source(small), 'calibration');
  });

  void it('moves by one step per slow call (a stall is not a trend), and tracks a high quantile of noisy calls', () => {
    const est = new LatencyEstimator(LATENCY);
    for (let i = 0; i < 20; i++) est.observe(mid, 1, est.base(mid));
    const before = est.latencyMs(mid) / est.base(mid);
    est.observe(mid, 1, 100 * est.base(mid)); // one 100x stall
    const after = est.latencyMs(mid) / est.base(mid);
    assert.ok(after > before && after < before * (1 + EMA_ALPHA) * (1 + EMA_ALPHA), `${before} -> ${after}`);
    const noisy = new LatencyEstimator(LATENCY);
    for (let i = 0; i < 60; i++) noisy.observe(mid, 1, (i % 2 ? 0.5 : 1.5) * noisy.base(mid));
    assert.ok(noisy.latencyMs(mid) >= 1.4 * noisy.base(mid), 'a high quantile, not the mean (1)');
  });

  void it('round-trips through model.calibration JSON', () => {
    const est = new LatencyEstimator(LATENCY);
    est.observe(mid, 2, 3 * est.base(mid, 2));
    const again = new LatencyEstimator(est.calibration().latency, JSON.parse(JSON.stringify(est.calibration())).observed);
    assert.equal(again.latencyMs(mid), est.latencyMs(mid));
    assert.equal(again.latencyMs(small), est.latencyMs(small));
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
      assert.ok(slow.calibration.observed[big.id]!.calls >= 20, 'a reloaded calibration keeps what was learned');
      await slow.release();
      await model.run(feeds, { subnet: mid.id });
      await model.run(feeds, { subnet: mid.id });
      assert.equal(model.calibration.observed[mid.id]?.calls, 1, 'calls feed the average (the first run of a session is skipped)');
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

    void it('rejects a calibration that is not one, naming the field', async () => {
      const bad = { ...CALIBRATION, latency: { overheadMs: 0.1, msPerMAC: 1 } };
      await assert.rejects(SortedModel.load(bytes, { ort, calibration: bad as unknown as Calibration }), /load\(\)\.calibration\.latency\.msPerMAC: unknown key "msPerMAC"\. Fix: did you mean "msPerMac"\?/);
    });
  });
}
