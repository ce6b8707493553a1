/**
 * blessed, loaded with `require`. Why: blessed is CommonJS of ~60 files;
 * imported as ESM under tsx (Node 20), each of its own requires makes a
 * blocking round trip to the loader-hooks thread, which cost ~0.6 s of
 * the TUI's start. Required directly, it loads in the CommonJS loader.
 */
import { createRequire } from 'node:module';
import type Blessed from 'blessed';

const blessed = createRequire(import.meta.url)('blessed') as typeof Blessed;
export default blessed;
