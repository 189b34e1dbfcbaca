#!/usr/bin/env node
import { main } from '../dist/packager/cli.js';
await main(process.argv.slice(2));
