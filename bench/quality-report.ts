/**
 * The quality study's report: markdown tables and an SVG plot (vega-lite, rendered headless)
 * from `bench/results/quality.json`.
 *
 * @example
 * qualityMarkdown(file); // '# Quality: ...\n\n| study | target | ...'
 * await qualitySvg(file); // '<svg ...>' with one panel per study: sorted and alone against MACs
 */
import type { Metric, QualityFile, Study, StudyName, SubnetRow } from './quality-types.js';
import { STUDY_NAMES } from './quality-types.js';

const pct = (x: number | undefined | null) => (x === undefined || x === null ? '–' : `${(x * 100).toFixed(2)}%`);
const num = (x: number) => x.toLocaleString('en-US');
const value = (metric: Metric, m: SubnetRow['sorted'] | null) => (m ? (metric === 'accuracy' ? pct(m.accuracy) : (m.perplexity?.toFixed(2) ?? '–')) : '–');
const ratio = (r: number | null) => (r === null ? '–' : r.toFixed(4));
const time = (r: number | null) => (r === null ? '–' : r.toFixed(3));

const SHOWN = ['hidden', 'channels', 'stages', 'blocks', 'dModel', 'layers', 'heads', 'ffnHidden', 'context', 'vocabSize', 'depths', 'widths', 'headLevels', 'ffnLevels', 'epochs', 'steps', 'batch', 'lr', 'groups', 'sampling', 'costPower', 'distill'];

function configLine(s: Study): string {
  const parts = SHOWN.filter((k) => s.config[k] !== undefined).map((k) => {
    const v = s.config[k];
    return `${k} ${Array.isArray(v) && v.length > 8 ? `${v.length} levels ${v[0]}..${v.at(-1)}` : Array.isArray(v) ? v.join(',') : String(v)}`;
  });
  const d = s.data as { train?: number; test?: number; name?: string };
  return `${parts.join('; ')}. Data: ${d.name ?? '?'}, ${d.train ?? '?'} train / ${d.test ?? '?'} test${s.metric === 'perplexity' ? ' tokens' : ''}. Run ${s.date.slice(0, 16).replace('T', ' ')} UTC on ${s.machine.cpus} shared cores (load ${s.machine.loadavgBefore[0]} → ${s.machine.loadavgAfter[0]}), ${s.machine.backend}.`;
}

function studyTable(s: Study): string {
  const metric = s.metric === 'accuracy' ? 'accuracy' : 'perplexity';
  const lines = [
    `| subnet | params | MACs | sorted ${metric} | alone ${metric} | sorted / alone |`,
    '|---|---:|---:|---:|---:|---:|',
    ...s.subnets.map((r) => `| ${r.id} | ${num(r.params)} | ${num(r.macs)} | ${value(s.metric, r.sorted)} | ${value(s.metric, r.alone)} | ${ratio(r.ratio)} |`),
  ];
  return lines.join('\n');
}

const TITLES: Record<StudyName, string> = {
  mlp: 'MLP on Fashion-MNIST: every subnet vs its twin trained alone',
  mlp10: 'MLP on Fashion-MNIST, 10 epochs: a saved sorted run vs twins trained alone',
  cnn: 'CNN on Fashion-MNIST: subnets vs twins trained alone',
  cnn160: 'CNN with 160+ subnets: every subnet of one run',
  lm: 'GPT LM on the Brown corpus: depth subnets vs twins trained alone (held-out perplexity)',
};

export function qualityMarkdown(file: QualityFile): string {
  const studies = STUDY_NAMES.map((n) => file.studies[n]).filter((s): s is Study => s !== undefined);
  const out = [
    '# Quality: sorted subnets against the same shapes trained alone',
    '',
    'Written by `npm run bench:quality` (bench/quality.ts). Each study trains one sorted network, then each compared subnet\'s shape alone (a sorted run whose lattice is that one shape, with the same epochs or steps, batch, optimizer and schedule), one run at a time in one process. Seconds are training time only (no final calibration or evaluation).',
    '',
    '## Targets',
    '',
    '| study | target | measured | bound | met |',
    '|---|---|---:|---:|:---:|',
    ...studies.flatMap((s) => s.targets.map((t) => `| ${s.name} | ${t.name} | ${t.value === null ? '–' : t.value.toFixed(t.bound > 1 ? 3 : 4)}${t.where ? ` (${t.where})` : ''} | ${t.kind === 'min' ? '≥' : '≤'} ${t.bound} | ${t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'} |`)),
    '',
    '## Training time',
    '',
    '| study | sorted run (s) | plain full run (s) | sorted / plain | alone twins (s, runs) | sorted / alone sum |',
    '|---|---:|---:|---:|---:|---:|',
    ...studies.map((s) => `| ${s.name} | ${s.seconds.sorted} | ${s.seconds.alone_full ?? '–'} | ${time(s.ratios.sortedOverAloneFull)} | ${s.seconds.alone_sum ?? '–'} (${s.seconds.aloneRuns}) | ${time(s.ratios.sortedOverAloneSum)} |`),
  ];
  for (const s of studies) {
    out.push('', `## ${s.name}: ${TITLES[s.name]}`, '', configLine(s), '', `Twins: ${s.twins}.`, ...s.notes.map((n) => `Note: ${n}.`), '', studyTable(s));
  }
  return `${out.join('\n')}\n`;
}

/** One panel per study that has alone twins: the metric against MACs, a line for sorted and one for alone. */
export async function qualitySvg(file: QualityFile): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const panels = STUDY_NAMES.map((n) => file.studies[n]).filter((s): s is Study => s !== undefined && s.name !== 'cnn160').map((s) => {
    const y = s.metric;
    const values = s.subnets.flatMap((r) => [
      { id: r.id, macs: r.macs, run: 'sorted (one run)', [y]: r.sorted[y] },
      ...(r.alone ? [{ id: r.id, macs: r.macs, run: 'trained alone', [y]: r.alone[y] }] : []),
    ]).filter((v) => v[y] !== undefined);
    return {
      title: { text: `${s.name}: ${y} against MACs`, fontSize: 12 },
      width: 300,
      height: 240,
      data: { values },
      encoding: {
        x: { field: 'macs', type: 'quantitative', scale: { type: 'log' }, title: s.metric === 'perplexity' ? 'MACs per sequence (log)' : 'MACs per example (log)' },
        y: { field: y, type: 'quantitative', scale: { zero: false }, axis: y === 'accuracy' ? { format: '.1%' } : {}, title: y === 'accuracy' ? 'test accuracy' : 'held-out perplexity' },
        color: { field: 'run', type: 'nominal', title: null, scale: { domain: ['sorted (one run)', 'trained alone'] } },
      },
      layer: [
        { mark: { type: 'line', opacity: 0.6 }, encoding: { order: { field: 'macs' } } },
        { mark: { type: 'point', filled: true, size: 40 } },
      ],
    };
  });
  const spec = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', title: 'SortedNet: subnets of one sorted run vs the same shapes trained alone', config: { legend: { orient: 'top' } }, hconcat: panels };
  const view = new vega.View(vega.parse(vl.compile(spec as never).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
