import { describe, it } from 'node:test';
import { dumpGraph } from '../../packager/inspect.js';
import { packCheckpoint } from '../../packager/pack.js';
import { extractSubnet } from '../../packager/extract.js';
import { matchSnapshot, mlpCheckpoint } from './fixture.js';

// Golden files: refresh with UPDATE_SNAPSHOTS=1 when a change to the format is intended.
void describe('golden snapshots', () => {
  const { bytes, manifest } = packCheckpoint(mlpCheckpoint({ inputSize: 6, hidden: 8, classes: 3 }, { depth: [1, 2], width: [0.5, 1] }, 42));

  void it('manifest of a tiny sorted MLP', () => {
    matchSnapshot('mlp-tiny.manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
  });

  void it('text dump of the packed graph', () => {
    matchSnapshot('mlp-tiny.graph.txt', dumpGraph(bytes));
  });

  void it('text dump of an extracted subnet', () => {
    matchSnapshot('mlp-tiny.d2-w50.graph.txt', dumpGraph(extractSubnet(bytes, 'd2-w50').bytes));
  });
});
