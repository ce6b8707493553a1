#!/usr/bin/env node
// The `contacts` executable: runs the prebuilt JavaScript (dist/contacts.js,
// bundled from tui/main.ts by `npm run build`, which `npm ci` runs).
// A missing or stale build exits 1 and says to run `npm run build`.
import { runBuilt } from '../daemon/run-built.js';

await runBuilt('contacts', 'contacts');
