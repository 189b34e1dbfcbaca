import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { SortedModel } from '../../runtime/index.js';
import { EXTERNAL_DATA } from '../../runtime/onnx.js';
import type { OrtLike } from '../../runtime/ort.js';
import { maxAbsDiff, randomArray, referenceForward, rng } from '../packager/fixture.js';
import { BACKENDS, CKPT, CONFIG, LATENCY, PACKED } from './backends.js';

const { bytes, manifest } = PACKED;
const x = randomArray(2 * CONFIG.inputSize, rng(41));
const feeds = { input: { data: x, dims: [2, CONFIG.inputSize] } };

/** The app's ORT with `create` watched: each session's model bytes and options. */
function watched(ort: OrtLike): { ort: OrtLike; made: { model: Uint8Array; options: Record<string, any> }[] } {
  const made: { model: Uint8Array; options: Record<string, any> }[] = [];
  const create = (model: Uint8Array, options: Record<string, any>) => {
    made.push({ model: model.slice(), options }); // copied: the runtime reuses its encode buffer
    return ort.InferenceSession.create(model, options);
  };
  return { ort: { ...ort, Tensor: ort.Tensor, InferenceSession: { create } } as unknown as OrtLike, made };
}

/** Initializers of an encoded model, decoded with protobufjs: name, raw_data bytes, external_data entries. */
function initializers(model: Uint8Array): { name: string; raw: number; external: Record<string, string> }[] {
  const out: { name: string; raw: number; external: Record<string, string> }[] = [];
  const read = (buf: Uint8Array, onField: (field: number, r: protobuf.Reader, wire: number) => boolean): void => {
    const r = protobuf.Reader.create(buf);
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (!onField(tag >>> 3, r, tag & 7)) r.skipType(tag & 7);
    }
  };
  read(model, (f, r) => {
    if (f !== 7) return false;
    read(r.bytes(), (g, rg) => {
      if (g !== 5) return false;
      const t = { name: '', raw: 0, external: {} as Record<string, string> };
      read(rg.bytes(), (h, rt) => {
        if (h === 8) t.name = rt.string();
        else if (h === 9) t.raw = rt.bytes().length;
        else if (h === 13) {
          let k = '';
          read(rt.bytes(), (e, re) => ((e === 1 ? (k = re.string()) : e === 2 ? (t.external[k] = re.string()) : undefined) !== undefined));
        } else return false;
        return true;
      });
      out.push(t);
      return true;
    });
    return true;
  });
  return out;
}

for (const b of BACKENDS) {
  void describe(`sessions read stored blocks as ORT external data (${b.name})`, () => {
    void it('lean: the switch session is encoded without weights; every block points at its offset in the file', async () => {
      const w = watched(b.ort as unknown as OrtLike);
      const file = bytes.slice();
      const model = await SortedModel.load(file, { ort: w.ort, latencyModel: LATENCY, mode: 'lean' });
      await model.run(feeds);
      // ORT copied the blocks at create: the runtime may drop the file's bytes (it does, for URLs and paths).
      file.fill(0);
      for (const s of manifest.subnets) {
        const d = maxAbsDiff((await model.run(feeds, { subnet: s.id })).logits!.data as Float32Array, referenceForward(CKPT, s.levels, x, 2));
        assert.ok(d < 1e-4, `${s.id} after the file's bytes were zeroed: maxdiff ${d}`);
      }
      await model.release();
      assert.equal(w.made.length, 1);
      const { model: encoded, options } = w.made[0]!;
      assert.equal(options.externalData[0].path, EXTERNAL_DATA);
      assert.equal(options.externalData[0].data.length, file.length);
      const stored = initializers(encoded).filter((t) => manifest.tensors.some((m) => m.name === t.name));
      assert.equal(stored.length, manifest.tensors.length, 'every stored block is an initializer');
      for (const t of stored) {
        assert.equal(t.raw, 0, `${t.name} carries no raw_data`);
        assert.deepEqual(t.external, { location: EXTERNAL_DATA, offset: String(manifest.tensors.find((m) => m.name === t.name)!.offset) });
      }
    });

    void it('fast: the narrowest subnet is all external; a wider one encodes its folded weights', async () => {
      const w = watched(b.ort as unknown as OrtLike);
      const model = await SortedModel.load(bytes, { ort: w.ort, latencyModel: LATENCY, mode: 'fast', subnet: manifest.subnets[0]!.id });
      const wide = manifest.subnets.at(-1)!;
      const d = maxAbsDiff((await model.run(feeds, { subnet: wide.id })).logits!.data as Float32Array, referenceForward(CKPT, wide.levels, x, 2));
      assert.ok(d < 1e-4, `${wide.id}: maxdiff ${d}`);
      await model.release();
      const [narrow, folded] = w.made.map((m) => initializers(m.model));
      assert.ok(narrow!.length > 0 && narrow!.every((t) => t.raw === 0 && t.external.location === EXTERNAL_DATA), 'narrowest subnet: every initializer external');
      assert.ok(folded!.some((t) => t.raw > 0), 'the full subnet folds its blocks into encoded weights');
    });
  });
}
