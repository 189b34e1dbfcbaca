// `sortednet` from the TypeScript sources, for tests that need a separate process (e.g. to
// SIGKILL a training run): node --import tsx test/training/cli-child.ts train ...
import { main } from '../../training/cli.js';

await main(process.argv.slice(2));
