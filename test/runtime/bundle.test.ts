import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { build } from 'esbuild';

/**
 * Guard for the browser runtime: min+gzip of the ESM bundle of runtime/web.ts, ORT external.
 * The target, 15 kB (read as 15,360 B), is the guard: the bundle is about 14.7 kB
 * (bench/results/runtime.json reports the figure), so a feature that adds bytes must take as
 * many out elsewhere.
 */
export const BUNDLE_TARGET_BYTES = 15 * 1024;

void describe('runtime bundle', () => {
  void it(`runtime/web.ts bundles to <= ${BUNDLE_TARGET_BYTES} B min+gzip with no node: or onnxruntime code`, async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../../runtime/web.ts', import.meta.url))],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      metafile: true,
      external: ['onnxruntime-*'],
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.contents;
    const gz = gzipSync(code, { level: 9 }).length;
    const inputs = Object.keys(result.metafile.inputs);
    console.log(`# runtime/web.ts: ${code.length} B minified, ${gz} B gzipped (target ${BUNDLE_TARGET_BYTES}), ${inputs.length} modules`);
    assert.ok(gz <= BUNDLE_TARGET_BYTES, `${gz} B gzipped > ${BUNDLE_TARGET_BYTES}`);
    assert.ok(inputs.every((f) => f.startsWith('runtime/')), `only runtime/ code in the bundle: ${inputs.join(', ')}`);
    const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    assert.deepEqual(imports, [], 'no imports left in the bundle (ORT is injected, not imported)');
  });
});
