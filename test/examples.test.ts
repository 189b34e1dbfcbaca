/** Examples are run by the tests, so what the README shows keeps working. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quickstart } from '../examples/quickstart.js';

test('examples/quickstart.ts: train, pack and pick a subnet per budget', { timeout: 120_000 }, async () => {
  const { choices } = await quickstart({ epochs: 1, quiet: true });
  assert.equal(choices.length, 5);
  const ids = new Set(choices.map((c) => c.subnet));
  // A tight memory budget must pick a smaller subnet than no budget at all.
  assert.notEqual(choices[0]!.subnet, choices[1]!.subnet);
  assert.ok(ids.size >= 2);
});
