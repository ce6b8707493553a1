#!/usr/bin/env node
// The `contacts` executable: registers tsx's ESM loader (so the TypeScript
// sources run as they are, no build step), then runs tui/main.ts.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
