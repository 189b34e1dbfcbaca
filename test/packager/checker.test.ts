import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { extractSubnet } from '../../packager/extract.js';
import { onnx } from '../../packager/onnx/schema.js';
import { packCheckpoint } from '../../packager/pack.js';
import { hasPythonOnnx, mlpCheckpoint, PYTHON } from './fixture.js';

const skip = hasPythonOnnx() ? false : 'python3 with onnx is not installed (apt-get install python3-onnx)';

void describe('onnx (python) accepts what we write', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sortednet-checker-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('onnx.checker.check_model(full_check=True) passes on the packed file and every extracted subnet', () => {
    const { bytes, manifest } = packCheckpoint(mlpCheckpoint({ inputSize: 10, hidden: 8, classes: 3 }, { depth: [1, 2], width: [0.5, 1] }));
    const files = [join(dir, 'packed.onnx')];
    writeFileSync(files[0]!, bytes);
    for (const s of manifest.subnets) {
      files.push(join(dir, `${s.id}.onnx`));
      writeFileSync(files.at(-1)!, extractSubnet(bytes, s.id).bytes);
    }
    const script = [
      'import sys, json, onnx',
      'for f in sys.argv[1:]:',
      '    m = onnx.load(f)',
      '    onnx.checker.check_model(m, full_check=True)',
      'm = onnx.load(sys.argv[1])',
      'print(json.dumps({p.key: len(p.value) for p in m.metadata_props}))',
    ].join('\n');
    const out = execFileSync(PYTHON, ['-c', script, ...files], { encoding: 'utf8' });
    assert.ok(JSON.parse(out).sortednet > 0, 'manifest in metadata_props');
  });

  void it('our onnx.proto subset uses ONNX\'s field numbers and types', () => {
    const script = [
      'import json, onnx',
      'from onnx import onnx_pb as P',
      'out = {}',
      'def walk(name, d):',
      '    out[name] = {f.name: [f.number, f.label == f.LABEL_REPEATED] for f in d.fields}',
      '    for n in d.nested_types: walk(name + "." + n.name, n)',
      'for m in ["ModelProto","GraphProto","NodeProto","AttributeProto","TensorProto","ValueInfoProto","TypeProto","TensorShapeProto","OperatorSetIdProto","StringStringEntryProto"]:',
      '    walk(m, getattr(P, m).DESCRIPTOR)',
      'print(json.dumps(out))',
    ].join('\n');
    const official = JSON.parse(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' })) as Record<string, Record<string, [number, boolean]>>;
    const ours = [onnx.ModelProto, onnx.GraphProto, onnx.NodeProto, onnx.AttributeProto, onnx.TensorProto, onnx.ValueInfoProto, onnx.TypeProto, onnx.TensorShapeProto, onnx.OperatorSetIdProto, onnx.StringStringEntryProto];
    const types = [...ours, ...ours.flatMap((t) => t.nestedArray.filter((n): n is typeof t => 'fieldsArray' in n))];
    for (const t of types) {
      const name = t.fullName.replace(/^\.onnx\./, '');
      for (const f of t.fieldsArray) assert.deepEqual([f.id, f.repeated], official[name]?.[f.name], `${name}.${f.name}`);
    }
  });
});
