#!/usr/bin/env node
import { main } from '../dist/training/cli.js';
await main(process.argv.slice(2));
