import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SortedNetError } from '../../runtime/errors.js';
import type { SubnetEntry } from '../../runtime/manifest-types.js';
import { checkBudget, selectSubnet } from '../../runtime/select.js';

const subnet = (id: string, macs: number, bytes: number, metrics: SubnetEntry['metrics']): SubnetEntry => ({ id, levels: {}, params: bytes / 4, bytes, macs, activations: 0, prefixBytes: bytes, metrics });
const S = [
  subnet('a', 100, 1 << 20, { accuracy: 0.8, loss: 0.9 }),
  subnet('b', 200, 2 << 20, { accuracy: 0.9, loss: 0.5 }),
  subnet('c', 400, 4 << 20, { accuracy: 0.88, loss: 0.6 }),
];
const L = { overheadMs: 1, msPerMac: 0.01 }; // a: 2 ms, b: 3 ms, c: 5 ms

function impossible(budget: object, field: string, fix: RegExp): void {
  assert.throws(() => selectSubnet(S, budget, L, 1, 'm.onnx'), (err: unknown) => {
    assert.ok(err instanceof SortedNetError);
    assert.equal(err.code, 'IMPOSSIBLE_BUDGET');
    assert.equal(err.field, field);
    assert.match(err.fix, fix);
    return true;
  });
}

void describe('selectSubnet', () => {
  void it('picks the most accurate subnet within budget, not the largest', () => {
    assert.equal(selectSubnet(S, {}, L).id, 'b');
    assert.equal(selectSubnet(S, { latencyMs: 2.5 }, L).id, 'a');
    assert.equal(selectSubnet(S, { memoryMB: 4, minAccuracy: 0.85 }, L).id, 'b');
    assert.equal(selectSubnet(S, { maxLoss: 0.7 }, L).id, 'b');
    assert.equal(selectSubnet(S, { latencyMs: 3 }, L, 2).id, 'a', 'latency scales with batch');
  });

  void it('falls back to loss, then MACs, when accuracy is missing', () => {
    const noAcc = S.map((s) => ({ ...s, metrics: { loss: s.metrics.loss! } }));
    assert.equal(selectSubnet(noAcc, {}, L).id, 'b');
    assert.equal(selectSubnet(S.map((s) => ({ ...s, metrics: {} })), {}, L).id, 'c');
    assert.throws(() => selectSubnet(S.map((s) => ({ ...s, metrics: {} })), { minAccuracy: 0.5 }, L), (e: unknown) => e instanceof SortedNetError && e.code === 'BAD_OPTION' && e.field === 'budget.minAccuracy');
  });

  void it('explains impossible budgets: the field, the smallest achievable value, the fix', () => {
    impossible({ latencyMs: 1.5 }, 'budget.latencyMs', /^raise latencyMs to 2$/);
    impossible({ memoryMB: 0.5 }, 'budget.memoryMB', /^raise memoryMB to 1$/);
    impossible({ minAccuracy: 0.95 }, 'budget.minAccuracy', /^lower minAccuracy to 0\.9$/);
    impossible({ latencyMs: 2.5, minAccuracy: 0.85 }, 'budget', /^raise latencyMs to 3, or lower minAccuracy to 0\.8$/);
    impossible({ latencyMs: 1, minAccuracy: 0.95 }, 'budget', /^relax several budget fields/);
  });

  void it('rejects bad budget keys and values', () => {
    assert.throws(() => checkBudget({ memoryMb: 1 }, 'load().budget'), /load\(\)\.budget\.memoryMb: unknown key "memoryMb"\. Fix: did you mean "memoryMB"\?/);
    assert.throws(() => checkBudget({ latencyMs: -1 }, 'b'), /b\.latencyMs: -1\. Fix: use a finite number >= 0/);
    assert.throws(() => checkBudget(5, 'b'), (e: unknown) => e instanceof SortedNetError && e.code === 'BAD_OPTION');
  });
});
