/**
 * The package as a user gets it: `npm pack`, install the tarball into an empty app, then use
 * the installed bins and the three package exports. Uses the local npm cache where it can.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_audit: 'false', npm_config_fund: 'false' };

test('npm pack → npm install → bins and exports work from the tarball', { timeout: 300_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sortednet-pkg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await run('npm', ['pack', '--pack-destination', dir], { cwd: root, env, maxBuffer: 1 << 24 });
  const tgz = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
  assert.ok(tgz, 'npm pack wrote a tarball');
  const app = join(dir, 'app');
  await run('mkdir', ['-p', app]);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tgz)], { cwd: app, env, maxBuffer: 1 << 24 });

  const bin = (name: string) => join(app, 'node_modules', '.bin', name);
  const help = await run(bin('sortednet-pack'), ['--help'], { cwd: app, env });
  assert.match(help.stdout, /sortednet-pack/);
  // Train on the subset shipped in the tarball, then pack and inspect with the installed bins.
  const trained = await run(bin('sortednet'), ['train', '--hidden', '16', '--depths', '1,2', '--widths', '0.5,1', '--epochs', '1',
    '--limit-train', '256', '--limit-test', '128', '--backend', 'wasm', '-q', '--out', 'm.safetensors'], { cwd: app, env, maxBuffer: 1 << 24 });
  assert.match(trained.stderr, /committed subset|system/);
  await run(bin('sortednet-pack'), ['m.safetensors', '-o', 'm.onnx'], { cwd: app, env });
  const inspected = await run(bin('sortednet-pack'), ['inspect', 'm.onnx', '--json'], { cwd: app, env });
  assert.equal(JSON.parse(inspected.stdout).manifest.subnets.length, 4);

  // The three exports resolve, with the runtime running a subnet on onnxruntime-node.
  const script = `
    import * as ort from 'onnxruntime-node';
    import { SortedModel } from 'sortednet/runtime';
    import { packCheckpoint } from 'sortednet/packager';
    import { train } from 'sortednet/training';
    if (typeof packCheckpoint !== 'function' || typeof train !== 'function') throw new Error('exports');
    const m = await SortedModel.load('m.onnx', { ort });
    const out = await m.run({ input: { data: new Float32Array(784), dims: [1, 784] } }, { subnet: m.subnets[0].id });
    console.log(out.logits.dims.join('x'));
    await m.release();`;
  await writeFile(join(app, 'use.mjs'), script);
  const used = await run(process.execPath, ['use.mjs'], { cwd: app, env });
  assert.equal(used.stdout.trim(), '1x10');
});
