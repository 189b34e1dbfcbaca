import { build } from 'esbuild';
const m = await build({ entryPoints: [process.argv[2]], bundle: false, minify: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' });
process.stdout.write(m.outputFiles[0].text);
