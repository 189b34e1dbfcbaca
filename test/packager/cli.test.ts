import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../packager/cli.js';
import { mlpCheckpointBytes } from './fixture.js';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string; exitCode: typeof process.exitCode }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  const exitCode = process.exitCode;
  process.exitCode = 0;
  return { code, out, err, exitCode };
}

/** A failure prints exactly one line, `error: <file>: <field>: ... Fix: ...`, and exits non-zero. */
function assertOneLineError(r: { code: number; out: string; err: string; exitCode: typeof process.exitCode }, file: string, field: RegExp): void {
  assert.notEqual(r.code, 0);
  assert.equal(r.exitCode, r.code);
  assert.equal(r.out, '');
  const lines = r.err.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.err);
  assert.ok(lines[0]!.startsWith(`error: ${file}: `), lines[0]);
  assert.match(lines[0]!, field);
  assert.match(lines[0]!, /\. Fix: ./);
}

void describe('sortednet-pack CLI', () => {
  let dir = '';
  let ckpt = '';
  let packed = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sortednet-cli-'));
    ckpt = join(dir, 'model.safetensors');
    packed = join(dir, 'model.onnx');
    writeFileSync(ckpt, mlpCheckpointBytes({ inputSize: 8, hidden: 8, classes: 3 }, { depth: [1, 2], width: [0.5, 1] }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('packs to the default output path and reports the smallest prefix', async () => {
    const r = await run([ckpt]);
    assert.equal(r.code, 0, r.err);
    assert.ok(existsSync(packed));
    assert.match(r.out, /^wrote .*model\.onnx: .* 4 subnets; d1-w50 needs the first .* \(\d+%\)\n$/);
  });

  void it('packs with -o and --quiet', async () => {
    const r = await run([ckpt, '-o', join(dir, 'other.onnx'), '--quiet']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '');
    assert.deepEqual(readFileSync(join(dir, 'other.onnx')), readFileSync(packed), 'packing is deterministic');
  });

  void it('inspect prints the subnets as a table, or JSON', async () => {
    const table = await run(['inspect', packed]);
    assert.equal(table.code, 0);
    const lines = table.out.trimEnd().split('\n');
    assert.match(lines[1]!, /^id\s+depth\s+width\s+params\s+MACs\s+bytes\s+prefix\s+accuracy\s+loss$/);
    assert.deepEqual(lines.slice(2).map((l) => l.split(/\s+/)[0]), ['d1-w50', 'd2-w50', 'd1-w100', 'd2-w100']);
    const json = JSON.parse((await run(['inspect', packed, '--json'])).out);
    assert.equal(json.manifest.subnets.length, 4);
    assert.equal(json.size, readFileSync(packed).length);
    const graph = await run(['inspect', '--graph', packed]);
    assert.match(graph.out, /^node {3}logits = Add\(head\.matmul, head\.bias\)$/m);
  });

  void it('extract writes one subnet', async () => {
    const out = join(dir, 'small.onnx');
    const r = await run(['extract', packed, '--subnet', 'd1-w50', '-o', out]);
    assert.equal(r.code, 0, r.err);
    assert.ok(readFileSync(out).length < readFileSync(packed).length / 2);
    const dflt = await run(['extract', packed, '-s', 'd2-w50']);
    assert.equal(dflt.code, 0, dflt.err);
    assert.ok(existsSync(join(dir, 'model.d2-w50.onnx')));
  });

  void it('--help works for every command', async () => {
    for (const argv of [['--help'], ['-h'], ['inspect', '--help'], ['extract', '--help']]) {
      const r = await run(argv);
      assert.equal(r.code, 0);
      assert.match(r.out, /^Usage: sortednet-pack/);
      assert.match(r.out, /default/);
    }
  });

  void it('an unknown subnet fails in one line naming the file, the field and the valid ids', async () => {
    const r = await run(['extract', packed, '--subnet', 'd3-w50', '-o', join(dir, 'x.onnx')]);
    assertOneLineError(r, packed, /: subnet: "d3-w50" is not in the manifest\. Fix: use one of d1-w50, d2-w50, d1-w100, d2-w100$/);
    assert.equal(r.code, 1);
  });

  void it('a truncated or corrupt ONNX file fails in one line naming the file and the field', async () => {
    const bytes = readFileSync(packed);
    const cut = join(dir, 'cut.onnx');
    writeFileSync(cut, bytes.subarray(0, 100));
    assertOneLineError(await run(['inspect', cut]), cut, /metadata_props\["sortednet"\]: the bytes end .* truncated/);
    writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
    assertOneLineError(await run(['extract', cut, '--subnet', 'd2-w100', '-o', join(dir, 'y.onnx')]), cut, /sortednet\.tensors\[\d+\] \(.*\): ends at byte \d+ but only \d+ bytes are there/);
    const bad = Buffer.from(bytes);
    bad[0] = 0xff;
    writeFileSync(cut, bad);
    assertOneLineError(await run(['inspect', cut]), cut, /ModelProto: /);
    assertOneLineError(await run(['inspect', ckpt]), ckpt, /ModelProto: unexpected field .* not an ONNX model/);
  });

  void it('bad flags and paths fail in one line', async () => {
    const typo = await run(['extract', packed, '--subnt', 'd1-w50']);
    assertOneLineError(typo, 'sortednet-pack', /--subnt: unknown option .* did you mean --subnet\?/);
    assert.equal(typo.code, 2);
    assertOneLineError(await run(['inspect']), 'sortednet-pack', /<model\.onnx>: missing/);
    assertOneLineError(await run(['extract', packed]), 'sortednet-pack', /--subnet: missing/);
    assertOneLineError(await run(['inspcet', packed]), 'sortednet-pack', /did you mean `sortednet-pack inspect`\?/);
    assertOneLineError(await run([join(dir, 'missing.safetensors')]), join(dir, 'missing.safetensors'), /\(file\): cannot read/);
    assertOneLineError(await run([packed, '-o', join(dir, 'again.onnx')]), packed, /a packed ONNX file, not a checkpoint/);
  });
});
