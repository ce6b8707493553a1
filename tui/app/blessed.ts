/**
 * The two blessed widgets the TUI builds on (screen and box; every view is
 * boxes), loaded with `require` from their own files.
 *
 * Why their files: blessed's index requires all 34 of its widgets (file
 * managers, images, a terminal emulator) at once, ~20 ms of the TUI's start
 * for nothing; a widget file requires what it uses itself. Why `require`:
 * blessed is CommonJS; imported as ESM under tsx (the tests), each of its
 * own requires makes a blocking round trip to the loader-hooks thread.
 */
import { createRequire } from 'node:module';
import type Blessed from 'blessed';

const require = createRequire(import.meta.url);

const blessed: Pick<typeof Blessed, 'screen' | 'box'> = {
  screen: require('blessed/lib/widgets/screen.js') as typeof Blessed.screen,
  box: require('blessed/lib/widgets/box.js') as typeof Blessed.box,
};
export default blessed;
