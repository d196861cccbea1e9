#!/usr/bin/env node
// Entry point of the `trent` command: runs the compiled CLI (npm run build makes dist/).
import { existsSync } from 'node:fs';
const entry = new URL('../dist/src/cli/trent.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('trent: not built yet; run `npm run build` (npm start builds for you).');
  process.exit(1);
}
await import(entry.href);
