#!/usr/bin/env node
// contactd's executable: runs the prebuilt JavaScript (dist/contactd.js,
// bundled from daemon/main.ts by `npm run build`, which `npm ci` runs).
// A missing or stale build exits 1 and says to run `npm run build`.
import { runBuilt } from './run-built.js';

await runBuilt('contactd', 'contactd');
