import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';

const root = fileURLToPath(new URL('../../', import.meta.url));
const results = join(root, 'bench/results');
const dir = mkdtempSync(join(tmpdir(), 'sortednet-quality-merge-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const quality = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench/quality.ts'), ...args], { cwd: root, encoding: 'utf8' });
const studies = (file: string): Record<string, { name: string; notes: string[] }> => (JSON.parse(readFileSync(file, 'utf8')) as { studies: Record<string, { name: string; notes: string[] }> }).studies;

void describe('bench/quality.ts --merge', () => {
  void it('copies the studies of other results files into --out, noting the source, and rewrites the .md and .svg', () => {
    const out = join(dir, 'q.json');
    copyFileSync(join(results, 'quality-mlp-3ep.json'), out);
    const cnn = join(results, 'quality-cnn-10ep.json');
    const lm = join(results, 'quality-lm-2400.json');
    const r = quality('--out', out, '--merge', `${cnn},${lm}`);
    assert.equal(r.status, 0, r.stderr);
    const got = studies(out);
    assert.deepEqual(Object.keys(got).sort(), ['cnn', 'lm', 'mlp']);
    assert.deepEqual(got.cnn, { ...studies(cnn).cnn, notes: [...studies(cnn).cnn!.notes, `merged from ${cnn}`] });
    assert.ok(got.lm!.notes.includes(`merged from ${lm}`));
    assert.deepEqual(got.mlp, studies(join(results, 'quality-mlp-3ep.json')).mlp, 'a study not merged stays as it was');
    assert.match(readFileSync(join(dir, 'q.md'), 'utf8'), /cnn/);
    assert.ok(existsSync(join(dir, 'q.svg')));
  });

  void it('rejects a missing file by name and leaves --out untouched', () => {
    const out = join(dir, 'keep.json');
    copyFileSync(join(results, 'quality-mlp-3ep.json'), out);
    const before = readFileSync(out, 'utf8');
    const r = quality('--out', out, '--merge', join(dir, 'nope.json'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--merge: .*nope\.json does not exist/);
    assert.equal(readFileSync(out, 'utf8'), before);
  });
});
