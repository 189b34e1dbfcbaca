import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const root = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const importsOf = (file: string): string[] => [...readFileSync(join(root, file), 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]!);

void describe('dependency direction', () => {
  void it('runtime imports nothing from training or packager, no ORT, and node: only in the Node entries', () => {
    for (const file of sources('runtime')) {
      for (const spec of importsOf(file)) {
        assert.ok(!/onnxruntime/.test(spec), `${file} imports ${spec}: the app injects ORT`);
        if (spec.startsWith('.')) {
          const target = relative(root, join(root, file, '..', spec));
          assert.ok(target.startsWith('runtime'), `${file} imports ${spec} from outside runtime/`);
        } else {
          assert.ok([join('runtime', 'node.ts'), join('runtime', 'node-worker.ts')].includes(file) && spec.startsWith('node:'), `${file} imports ${spec}`);
        }
      }
    }
  });

  void it('packager imports training only through the checkpoint reader and spec', () => {
    for (const file of sources('packager')) {
      for (const spec of importsOf(file).filter((s) => s.includes('training/'))) assert.match(spec, /training\/(checkpoint|spec)\.js$/, `${file} imports ${spec}`);
    }
  });
});
