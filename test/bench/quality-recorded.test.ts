import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { recordedRun, recordedTwins } from '../../bench/quality-recorded.js';
import { cnnTwinConfig, runCnnStudy } from '../../bench/quality-studies.js';
import { writeCheckpoint } from '../../training/checkpoint.js';
import type { Levels, SubnetSpec } from '../../training/spec.js';

const results = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sortednet-quality-recorded-'));
after(() => rmSync(dir, { recursive: true, force: true }));

void describe('bench/quality.ts --cnn-sorted (recordedRun)', () => {
  const file = join(results, 'quality-cnn-10ep.json');

  void it('reads the recorded sorted run: every subnet with its sorted metrics, its seconds and config', async () => {
    const run = await recordedRun(file, 'cnn', { channels: 16, epochs: 10, depths: [1, 2, 3, 4], seed: 0, augment: undefined });
    assert.equal(run.subnets.length, 16);
    assert.deepEqual(run.subnets.at(-1), { id: 'd4-w100', levels: { depth: 4, width: 1 }, params: 89402, macs: 7053184, metrics: { accuracy: 0.9159, loss: run.subnets.at(-1)!.metrics.loss } });
    assert.equal(run.seconds, 2585.9);
    assert.equal(run.config.channels, 16);
  });

  void it('gives the seconds of a full twin timed side by side with the sorted run, and none where the time was not judged', async () => {
    const run = await recordedRun(file, 'cnn', { channels: 16, epochs: 10 });
    assert.equal(run.fullTwinSeconds, 1849.7);
    const unjudged = join(dir, 'unjudged.json');
    const study = JSON.parse(readFileSync(file, 'utf8')) as { studies: { cnn: { targets: { name: string; met: boolean | null }[] } } };
    for (const t of study.studies.cnn.targets) if (t.name.startsWith('sorted training time')) t.met = null;
    writeFileSync(unjudged, JSON.stringify(study));
    assert.equal((await recordedRun(unjudged, 'cnn', { channels: 16 })).fullTwinSeconds, null);
  });

  void it('rejects a config the recorded run did not have, naming the file and the key', async () => {
    await assert.rejects(recordedRun(file, 'cnn', { channels: 24 }), (err: Error) => err.message.includes(`${file}: studies.cnn.config.channels is 16, but this run asks for 24`));
  });

  void it('rejects a file without the study, or not JSON, by name', async () => {
    await assert.rejects(recordedRun(file, 'cnn160', {}), /no "cnn160" study in it/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ not json');
    await assert.rejects(recordedRun(bad, 'cnn', {}), (err: Error) => err.message.startsWith(`${bad}: cannot read a quality results file`));
  });
});

void describe('bench/quality.ts --cnn-twins-from (recordedTwins)', () => {
  const file = join(results, 'quality-cnn-10ep.json');

  void it('reads the recorded twins and their seconds, whatever the sorted-only keys of this run', async () => {
    const { twins, seconds } = await recordedTwins([file], 'cnn', { channels: 16, epochs: 10, seed: 0, distill: 0.5, costPower: 0.5, sampling: 'uniform', groups: 4 });
    assert.deepEqual([...twins.keys()].sort(), ['d1-w25', 'd4-w100', 'd4-w25']);
    assert.equal(twins.get('d4-w100')!.accuracy, 0.9211);
    assert.equal(seconds.alone_full, 1849.7);
  });

  void it('rejects a key the twins depend on, naming the file and the key', async () => {
    await assert.rejects(recordedTwins([file], 'cnn', { epochs: 20 }), (err: Error) => err.message.includes(`${file}: studies.cnn.config.epochs is 10, but this run asks for 20`) && err.message.includes('train the twins again'));
  });

  void it('rejects twins trained on other data, naming the split and the fix', async () => {
    await assert.rejects(recordedTwins([file], 'cnn', {}, { train: 20000, test: 10000 }), (err: Error) => err.message.includes(`${file}: studies.cnn.data.train is 60000 examples, but this run loaded 20000`) && err.message.includes('--limit-train'));
    const { twins } = await recordedTwins([file], 'cnn', {}, { train: 60000, test: 10000 });
    assert.equal(twins.size, 3);
  });

  void it('merges the twins of several files: alone_full from the file with the full twin, the rest summed', async () => {
    const more = join(dir, 'more-twins.json');
    const study = JSON.parse(readFileSync(file, 'utf8')) as { studies: { cnn: { subnets: { id: string; alone: unknown }[]; seconds: Record<string, number> } } };
    const cnn = study.studies.cnn;
    for (const r of cnn.subnets) r.alone = r.id === 'd2-w25' ? { accuracy: 0.85, loss: 0.4 } : null;
    cnn.seconds = { sorted: 2585.9, alone_full: null as unknown as number, alone_sum: 300, aloneRuns: 1, wall: 310 };
    writeFileSync(more, JSON.stringify(study));
    const { twins, seconds } = await recordedTwins([file, more], 'cnn', { channels: 16, epochs: 10 });
    assert.deepEqual([...twins.keys()].sort(), ['d1-w25', 'd2-w25', 'd4-w100', 'd4-w25']);
    assert.deepEqual(twins.get('d2-w25'), { accuracy: 0.85, loss: 0.4 });
    assert.equal(seconds.alone_full, 1849.7);
    assert.equal(seconds.alone_sum, 2551.6 + 300);
    assert.equal(seconds.aloneRuns, 4);
    await assert.rejects(recordedTwins([file, file], 'cnn', {}), (err: Error) => err.message.includes(`${file}: studies.cnn has an alone twin of`) && err.message.includes('pass each twin\'s file once'));
  });

  void it('rejects a study without twins by name', async () => {
    const none = join(dir, 'no-twins.json');
    writeFileSync(none, JSON.stringify({ studies: { cnn: { subnets: [{ id: 'd1-w100', sorted: { accuracy: 0.9 }, alone: null }], config: {}, seconds: { sorted: 1 } } } }));
    await assert.rejects(recordedTwins([none], 'cnn', {}), (err: Error) => err.message.startsWith(`${none}: studies.cnn has no alone twins`));
  });
});

void describe('bench/quality.ts --cnn-twins-from with a `sortednet train` checkpoint of one twin', () => {
  const file = join(results, 'quality-cnn-10ep.json');
  const recorded = (JSON.parse(readFileSync(file, 'utf8')) as { studies: { cnn: { config: Record<string, unknown> } } }).studies.cnn.config;
  const shape = (l: Levels): Record<string, unknown> | null => cnnTwinConfig({ channels: 16, stages: 2 }, l);
  const twinCheckpoint = async (name: string, training: Record<string, unknown>, subnets: SubnetSpec[] = [{ id: 'd4-w100', levels: { depth: 4, width: 1 }, params: 89402, macs: 7053184, metrics: { accuracy: 0.9201, loss: 0.25 } }]): Promise<string> => {
    const path = join(dir, name);
    await writeCheckpoint(path, {
      spec: { format: 'sortednet-checkpoint', version: 1, arch: 'cnn', config: { channels: 16, stages: 2, blocks: 4 }, dims: { depth: [4], width: [1] }, subnets, training, data: { name: 'fashion-mnist', source: 'test', train: 60000, test: 10000 } },
      tensors: { w: { dims: [1], data: new Float32Array([0]) } },
    });
    return path;
  };
  const twinTraining = { ...recorded, channels: 16, blocks: 4, depths: [4], widths: [1], sampling: 'uniform', groups: 5, seconds: 1800.5 };
  // The results file holds the other twins, without the full one.
  const others = join(dir, 'others.json');
  const study = JSON.parse(readFileSync(file, 'utf8')) as { studies: { cnn: { subnets: { id: string; alone: unknown }[]; seconds: Record<string, number | null> } } };
  for (const r of study.studies.cnn.subnets) if (r.id === 'd4-w100') r.alone = null;
  study.studies.cnn.seconds = { ...study.studies.cnn.seconds, alone_full: null, alone_sum: 700, aloneRuns: 2 };
  writeFileSync(others, JSON.stringify(study));

  void it('takes the checkpoint\'s subnet metrics as its twin, and its training seconds as alone_full when it is the full subnet', async () => {
    const ckpt = await twinCheckpoint('full-twin.safetensors', twinTraining);
    const { twins, seconds } = await recordedTwins([others, ckpt], 'cnn', { channels: 16, epochs: 10, depths: [1, 2, 3, 4], blocks: 4, stages: 2 }, { train: 60000, test: 10000 }, shape, 'd4-w100');
    assert.deepEqual([...twins.keys()].sort(), ['d1-w25', 'd4-w100', 'd4-w25']);
    assert.deepEqual(twins.get('d4-w100'), { accuracy: 0.9201, loss: 0.25 });
    assert.equal(seconds.alone_full, 1800.5);
    assert.equal(seconds.alone_sum, 700 + 1800.5);
    assert.equal(seconds.aloneRuns, 3);
    // The same twin in a results file too is rejected, naming both.
    await assert.rejects(recordedTwins([file, ckpt], 'cnn', {}, undefined, shape, 'd4-w100'), (err: Error) => err.message.includes(`${ckpt}: the checkpoint has an alone twin of d4-w100, and so has ${file}`));
  });

  void it('rejects a checkpoint trained with another recipe or shape, naming the file, the key and the fix', async () => {
    const ckpt = await twinCheckpoint('eight-epochs.safetensors', { ...twinTraining, epochs: 8 });
    await assert.rejects(recordedTwins([others, ckpt], 'cnn', { epochs: 10 }, undefined, shape, 'd4-w100'), (err: Error) => err.message.includes(`${ckpt}: training.epochs is 8, but this study's d4-w100 twin needs 10`) && err.message.includes('train the twin again'));
    const wide = await twinCheckpoint('wide.safetensors', { ...twinTraining, channels: 24 });
    await assert.rejects(recordedTwins([ckpt.replace('eight-epochs', 'wide')], 'cnn', { channels: 16 }, undefined, shape), (err: Error) => err.message.includes(`${wide}: training.channels is 24, but this study's d4-w100 twin needs 16`));
  });

  void it('rejects a checkpoint of a sorted run (more than one subnet) or without metrics or seconds', async () => {
    const sorted = await twinCheckpoint('sorted.safetensors', twinTraining, [
      { id: 'd1-w100', levels: { depth: 1, width: 1 }, params: 1, macs: 1, metrics: { accuracy: 0.8 } },
      { id: 'd4-w100', levels: { depth: 4, width: 1 }, params: 2, macs: 2, metrics: { accuracy: 0.9 } },
    ]);
    await assert.rejects(recordedTwins([sorted], 'cnn', {}), (err: Error) => err.message.startsWith(`${sorted}: subnets has 2 entries, not 1`));
    const unevaluated = await twinCheckpoint('unevaluated.safetensors', twinTraining, [{ id: 'd4-w100', levels: { depth: 4, width: 1 }, params: 2, macs: 2, metrics: {} as SubnetSpec['metrics'] }]);
    await assert.rejects(recordedTwins([unevaluated], 'cnn', {}), /subnets\[0\]\.metrics is empty/);
    const untimed = await twinCheckpoint('untimed.safetensors', { ...twinTraining, seconds: undefined });
    await assert.rejects(recordedTwins([untimed], 'cnn', {}), /training\.seconds is missing/);
  });
});

void describe('bench/quality.ts recorded runs and keys added later', () => {
  const file = join(results, 'quality-cnn-10ep.json');

  void it('reads a key the file predates as its default then (labelSmoothing 0), and rejects another value', async () => {
    const { twins } = await recordedTwins([file], 'cnn', { channels: 16, labelSmoothing: 0 });
    assert.equal(twins.size, 3);
    await assert.rejects(recordedTwins([file], 'cnn', { labelSmoothing: 0.1 }), (err: Error) => err.message.includes(`${file}: studies.cnn.config.labelSmoothing is 0, but this run asks for 0.1`));
  });
});

void describe('bench/quality.ts composing a CNN study from recorded files (runCnnStudy)', () => {
  // A sorted run whose own time target was not judged (its twin did not train right after it).
  const file = join(dir, 'compose-unjudged.json');
  const study = JSON.parse(readFileSync(join(results, 'quality-cnn-10ep.json'), 'utf8')) as { studies: { cnn: { targets: { name: string; met: boolean | null }[] } } };
  for (const t of study.studies.cnn.targets) if (t.name.startsWith('sorted training time')) t.met = null;
  writeFileSync(file, JSON.stringify(study));
  const data = { train: { n: 60000 }, test: { n: 10000 } } as unknown as Parameters<typeof runCnnStudy>[0]['data'];
  const compose = (judgeRecordedTime?: boolean): ReturnType<typeof runCnnStudy> =>
    runCnnStudy({ name: 'cnn', evalBatch: 250, data, twins: 'all', sortedFrom: file, twinsFrom: [file], judgeRecordedTime, config: { channels: 16, stages: 2, depths: [1, 2, 3, 4], blocks: 4, epochs: 10 } });

  void it('leaves the time target unjudged on recorded seconds, and judges it only when asked, saying so', async () => {
    const quiet = console.log;
    console.log = () => {};
    try {
      const plain = await compose();
      const time = (s: Awaited<ReturnType<typeof runCnnStudy>>) => s.targets.find((t) => t.name.startsWith('sorted training time'))!;
      assert.equal(time(plain).met, null);
      assert.match(time(plain).name, /not judged/);
      const judged = await compose(true);
      assert.equal(time(judged).met, 2585.9 / 1849.7 <= 1.3);
      assert.equal(time(judged).value, 2585.9 / 1849.7);
      assert.ok(judged.notes.some((n) => n.includes('--cnn-judge-recorded-time')));
      assert.equal(judged.subnets.filter((r) => r.alone).length, 3);
    } finally {
      console.log = quiet;
    }
  });
});
