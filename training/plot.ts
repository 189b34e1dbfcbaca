/**
 * Accuracy against MACs, one line per depth and one point per width, rendered headless to
 * SVG with vega-lite and vega (no canvas, no browser).
 *
 * @example
 * await writeAccuracyPlot('model.safetensors', spec.subnets); // writes model.accuracy.svg, returns its path
 */
import type { SubnetSpec } from './spec.js';
import { writeFileAtomic } from './checkpoint.js';

/** Path of the plot next to a checkpoint: `model.safetensors` -> `model.accuracy.svg`. */
export function plotPathFor(checkpointPath: string): string {
  return `${checkpointPath.replace(/\.safetensors$/i, '')}.accuracy.svg`;
}

/** SVG text of the accuracy-vs-MACs plot. */
export async function accuracyPlotSvg(subnets: readonly SubnetSpec[], title = 'Subnet accuracy against compute'): Promise<string> {
  // Imported lazily: vega is large and only the end of a run needs it.
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const values = subnets
    .filter((s) => s.metrics.accuracy !== undefined)
    .map((s) => ({ id: s.id, depth: `depth ${s.levels.depth ?? '-'}`, width: s.levels.width ?? 1, macs: s.macs, accuracy: s.metrics.accuracy! }));
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 480,
    height: 300,
    data: { values },
    encoding: {
      x: { field: 'macs', type: 'quantitative', scale: { type: 'log' }, title: 'MACs per example (log scale)' },
      y: { field: 'accuracy', type: 'quantitative', scale: { zero: false }, axis: { format: '.1%' }, title: 'test accuracy' },
      color: { field: 'depth', type: 'nominal', title: null },
    },
    layer: [
      { mark: { type: 'line' } },
      { mark: { type: 'point', filled: true, size: 50 } },
      { mark: { type: 'text', dy: -9, fontSize: 9 }, encoding: { text: { field: 'id' } } },
    ],
  };
  const compiled = vl.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Write the plot next to the checkpoint (atomically); returns the SVG path. */
export async function writeAccuracyPlot(checkpointPath: string, subnets: readonly SubnetSpec[]): Promise<string> {
  const path = plotPathFor(checkpointPath);
  await writeFileAtomic(path, new TextEncoder().encode(await accuracyPlotSvg(subnets)));
  return path;
}
