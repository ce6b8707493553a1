#!/usr/bin/env node
// The `contacts` executable: registers tsx's ESM loader (so the TypeScript
// sources run as they are, no build step), then runs tui/main.ts.
//
// For a command, the wire codec's JavaScript dependencies are loaded first,
// before tsx: typebox is ~500 small ES modules, and through tsx's loader
// hooks (a round trip to the hooks thread per module) they take about a
// second; loaded natively, a fraction of that. The TypeScript that imports
// them later finds them in the module cache. The TUI (no command) skips
// this: it draws its first frame before it loads the client at all.
const COMMANDS = new Set(['add', 'get', 'list', 'search', 'edit', 'rm', 'conflicts', 'resolve', 'history', 'members', 'stats']);
if (process.argv.slice(2).some((a) => COMMANDS.has(a))) {
  await Promise.all([import('typebox'), import('typebox/compile'), import('cbor-x')]);
}
const { register } = await import('tsx/esm/api');
register();
await import('./main.ts');
