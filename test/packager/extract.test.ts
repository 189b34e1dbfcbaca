import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { extractSubnet } from '../../packager/extract.js';
import { onnx } from '../../packager/onnx/schema.js';
import { packCheckpoint } from '../../packager/pack.js';
import { SortedNetError } from '../../runtime/errors.js';
import { subnetModel, SUBNET_META_KEY } from '../../runtime/subnet.js';
import { maxAbsDiff, mlpCheckpoint, randomArray, referenceForward, rng } from './fixture.js';

void describe('extractSubnet', () => {
  const config = { inputSize: 20, hidden: 16, classes: 5 };
  const ckpt = mlpCheckpoint(config, { depth: [1, 2, 3], width: [0.25, 0.5, 0.75, 1] }, 5);
  const { bytes, manifest } = packCheckpoint(ckpt);
  const x = randomArray(4 * config.inputSize, rng(9));

  for (const s of manifest.subnets) {
    void it(`${s.id}: a standalone model with plain initializers that matches the reference`, async () => {
      const { bytes: sub } = extractSubnet(bytes, s.id, 'model.onnx');
      const model = onnx.ModelProto.toObject(onnx.ModelProto.decode(sub), { arrays: true }) as { graph: { node: { op_type: string }[]; initializer: { name: string }[] }; metadata_props: { key: string; value: string }[] };
      assert.ok(model.graph.node.every((n) => n.op_type !== 'Concat'), 'weights folded');
      assert.equal(model.graph.initializer.length, 2 * s.levels.depth! + 2);
      assert.equal(model.metadata_props[0]!.key, SUBNET_META_KEY);
      assert.equal(JSON.parse(model.metadata_props[0]!.value).id, s.id);
      const session = await ort.InferenceSession.create(sub);
      const out = await session.run({ input: new ort.Tensor('float32', x, [4, config.inputSize]) });
      assert.ok(maxAbsDiff(out.logits!.data as Float32Array, referenceForward(ckpt, s.levels, x, 4)) < 1e-4);
      await session.release();
    });
  }

  void it('writes the same bytes as the runtime builds for its session (one graph logic, two writers)', () => {
    for (const s of manifest.subnets) assert.deepEqual(extractSubnet(bytes, s.id).bytes, subnetModel(manifest, bytes, s.id, '<memory>'));
  });

  void it('rejects an unknown subnet id, listing the valid ones', () => {
    assert.throws(() => extractSubnet(bytes, 'd4-w100', 'model.onnx'), (err: unknown) => {
      assert.ok(err instanceof SortedNetError);
      assert.equal(err.code, 'UNKNOWN_SUBNET');
      assert.equal(err.file, 'model.onnx');
      assert.match(err.fix, /d1-w25, .*d3-w100/);
      return true;
    });
  });
});
