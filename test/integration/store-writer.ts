/**
 * The child process of store-durability.test.ts: a node's write path with
 * nothing else, killed with SIGKILL at random moments by the parent.
 *
 * How this works: open the store in <data-dir> (synchronous FULL), load it,
 * print `ready <contacts held> <own seq high-water>`, then run <writers>
 * loops at once, each creating one contact after another through
 * commitWrite, draining the journal, awaiting commit, and only then printing
 * `ack <id>`: exactly the daemon's rule (acknowledge after the commit
 * resolved). Several loops keep commits in flight, so a kill lands inside
 * transactions and group commits, not only between them. Stdout is a pipe,
 * written synchronously on Linux, so an `ack` line is out before the next
 * write starts.
 *
 * Usage: node --import tsx test/integration/store-writer.ts <data-dir> <writers>
 */
import { cloudMax, vvGet } from '../../protocol/contacts/dots.ts';
import { nodeId } from '../../protocol/types.ts';
import { newContactId, writeSample } from '../../daemon/store/sample.ts';
import { SqliteContactStore } from '../../daemon/store/sqlite-store.ts';

/** The node id this child writes as, every life (as a data dir keeps it). */
const WRITER_NODE = nodeId('c0ffee00c0ffee00');
/** Most concurrent write loops. */
const WRITERS_MAX = 64;

const [dir, writersArg] = process.argv.slice(2);
const writers = Number(writersArg);
if (!dir || !Number.isInteger(writers) || writers < 1 || writers > WRITERS_MAX) {
  process.stderr.write(`usage: store-writer.ts <data-dir> <writers 1..${WRITERS_MAX}>\n`);
  process.exit(2);
}

const store = await SqliteContactStore.open(dir);
const memory = await store.load();
process.stdout.write(`ready ${memory.count()} ${vvGet(cloudMax(memory.applied()), WRITER_NODE)}\n`);

let next = memory.count();
async function writeLoop(): Promise<never> {
  for (;;) {
    const id = newContactId();
    writeSample(memory, WRITER_NODE, id, next++, Date.now());
    await store.commit(memory.drainChanges());
    process.stdout.write(`ack ${id}\n`);
  }
}

await Promise.all(Array.from({ length: writers }, writeLoop));
