/**
 * One contactd's write path in this process, for the benchmarks: a keyed
 * ClusterNode over a real SQLite store (synchronous FULL), driven by the
 * daemon's own driver wiring (daemon/write-path.ts) on the real clock and
 * timers, with two peer members, and clients that send it sealed `put`
 * requests as tui/client.ts does.
 *
 * How this works:
 * - The two peers are ClusterNodes in this process, joined to the writing
 *   node by handing datagrams between them before the run. During the run
 *   the writing node's datagrams to them are counted and dropped (their own
 *   work is theirs, on other machines), and it probes nobody (probe interval
 *   one hour), so it keeps them alive and pushes every write to both, as a
 *   member of a three-node cluster does.
 * - Each client has its own address and a write credential; every request
 *   is built and sealed beforehand (the clients' work is not the node's).
 *   A request reaches the driver in a macrotask of its own, as a datagram
 *   does from the socket; the client's next request goes once its answer
 *   came out of the sink, which the driver releases only after the write's
 *   transaction committed.
 * - The UDP socket is the only part of contactd's path left out: the sink
 *   stands in for it.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { ClusterNode, type NodeEvent } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { address, nodeId, type Address, type NodeId } from '../../protocol/types.ts';
import { decodePacket, encodePacket } from '../../protocol/wire/codec.ts';
import type { ClientRes } from '../../protocol/wire/messages.ts';
import { toAsciiJson } from '../../protocol/client/json.ts';
import { credentialKey, openAnswer, REQUEST_HEADER_BYTES, sealRequest } from '../../protocol/security/client-envelope.ts';
import { TAG_BYTES } from '../../protocol/security/crypto.ts';
import { fragmentPacket } from '../../protocol/fragments.ts';
import type { Aead } from '../../protocol/security/crypto.ts';
import type { Driver } from '../../daemon/driver.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';
import { NodeEventHandler } from '../../daemon/node-events.ts';
import { SystemdNotifier } from '../../daemon/systemd.ts';
import type { ContactStore } from '../../protocol/contacts/store.ts';
import { SqliteContactStore, type SqliteStoreOptions } from '../../daemon/store/sqlite-store.ts';
import { writePathDriver } from '../../daemon/write-path.ts';
import { newContactId, sampleContact } from '../../daemon/store/sample.ts';

const CLUSTER = 'contacts';
const KEY = new Uint8Array(32).fill(0x5c);
/** The writing node probes nobody during a run: its peers cannot answer (see the header). */
const NO_PROBES_MS = 3_600_000;
/** Bound on the rounds of the in-process join. */
const JOIN_ROUNDS_MAX = 100;
/** The writing node and its boot epoch, which every request names (a request naming no server draws a retarget). */
const WRITER_ID = nodeId('b000000000000000');
const WRITER_EPOCH = 1;
/** A request unanswered this long failed (the node answers within milliseconds, one fsync). */
const ANSWER_TIMEOUT_MS = 10_000;
/** The datagram budget tui/client.ts fragments requests to. */
const CLIENT_BUDGET_BYTES = 1400;
/** Requests are padded as tui/client.ts pads them. */
const PAD_TO_CHARS = 600;

/** A client as the node sees it: an address and the key its answers are sealed under. */
export interface BenchClient {
  readonly addr: Address;
  readonly credential: string;
  readonly kc: Uint8Array;
  readonly from: ReturnType<typeof nodeId>;
  /** Answer keys by server, as tui/client.ts caches them. */
  readonly answerKeys: Map<string, Aead>;
}

export interface WriteNode {
  readonly core: ClusterNode;
  readonly driver: Driver<NodeEvent>;
  readonly store: SqliteContactStore;
  /** Datagrams and bytes sent to the peers (deltas, mostly). */
  readonly toPeers: { datagrams: number; bytes: number };
  readonly clients: readonly BenchClient[];
  /** Sends `bytes` (a request's datagrams) from client `k`, each in a macrotask of its own; resolves with the first datagram the node sends back to it. */
  ask(k: number, bytes: Uint8Array | readonly Uint8Array[]): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** The writing node's core, joined to its two peers, with `clients` write credentials; over `store`. */
function writeCore(clients: number, store: ContactStore): { core: ClusterNode; clients: BenchClient[]; peerAddrs: Set<string> } {
  const now = Date.now();
  const security = () => ({ crypto: nodeCrypto, epoch: WRITER_EPOCH, keyFileKey: KEY });
  const node = (i: number, config = {}, restored = {}) => new ClusterNode({
    id: i === 0 ? WRITER_ID : nodeId(`b0000000000000${i.toString(16).padStart(2, '0')}`), addr: address(`127.0.0.1:${7700 + i}`),
    rng: new SeededRng(i + 1), now, security: security(), config: { clusterName: CLUSTER, ...config }, restored,
  });
  const core = node(0, { probeIntervalMs: NO_PROBES_MS }, { store });
  const peers = [node(1), node(2)];
  joinInProcess(now, core, peers);
  const bench: BenchClient[] = [];
  for (let k = 0; k < clients; k++) {
    const id = randomBytes(8).toString('hex');
    const kc = credentialKey(nodeCrypto, id, new Uint8Array(randomBytes(32)));
    const added = core.security!.addCredential({ id, role: 'write', key: kc, name: `bench ${k}`, created: now });
    if (!added.ok) throw new Error(`bench credential refused: ${added.message}`);
    bench.push({ addr: address(`127.0.0.2:${20_000 + k}`), credential: id, kc, from: nodeId(randomBytes(8).toString('hex')), answerKeys: new Map() });
  }
  // What the credentials and the join queued is not part of any write.
  while (core.pollTransmit() !== undefined || core.pollEvent() !== undefined) { /* dropped */ }
  return { core, clients: bench, peerAddrs: new Set(peers.map((p) => p.membership.member(p.id)!.addr)) };
}

/** Starts the writing node on a store in `dataDir` with `clients` write credentials. */
export async function startWriteNode(dataDir: string, clients: number, storeOptions: SqliteStoreOptions = {}): Promise<WriteNode> {
  const store = await SqliteContactStore.open(dataDir, { synchronous: 'FULL', ...storeOptions });
  const { core, clients: bench, peerAddrs } = writeCore(clients, await store.load({ journal: true }));
  const byAddr = new Map(bench.map((c, k) => [c.addr as string, k]));
  const waiting = new Map<number, (bytes: Uint8Array) => void>();
  const toPeers = { datagrams: 0, bytes: 0 };
  const log = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: true }));
  const events = new NodeEventHandler({
    log, save: () => undefined, notifier: SystemdNotifier.fromEnv({}, log), members: () => core.membership.members(), shell: { stateWriteErrors: 0 },
  });
  const driver = writePathDriver({
    core, events, store,
    sink: {
      send(to, bytes) {
        if (peerAddrs.has(to)) {
          toPeers.datagrams++;
          toPeers.bytes += bytes.length;
          return;
        }
        const k = byAddr.get(to);
        const resolve = k === undefined ? undefined : waiting.get(k);
        if (k === undefined || !resolve) return;
        waiting.delete(k);
        resolve(bytes);
      },
    },
    onCommitFailed: (err) => { throw err; },
    onError: (err, where) => { throw new Error(`write node: ${where}: ${(err as Error).message}`); },
  });
  driver.start();
  return {
    core, driver, store, toPeers, clients: bench,
    ask: (k, bytes) => new Promise((resolve, reject) => {
      // A request the node drops (refused, rate-limited) draws nothing: fail the run rather than wait forever.
      const timer = setTimeout(() => {
        waiting.delete(k);
        reject(new Error(`client ${k}: no answer from the write node in ${ANSWER_TIMEOUT_MS} ms (request dropped? see the core's security and client counters)`));
      }, ANSWER_TIMEOUT_MS);
      waiting.set(k, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      for (const d of bytes instanceof Uint8Array ? [bytes] : bytes) setImmediate(() => driver.handleDatagram(bench[k]!.addr, d));
    }),
    close: async () => {
      driver.stop();
      await store.close();
    },
  };
}

/** Joins `core` to `peers` by handing their datagrams to each other until none is left; fails unless it sees both alive. */
function joinInProcess(now: number, core: ClusterNode, peers: ClusterNode[]): void {
  const all = [core, ...peers];
  const addrOf = (n: ClusterNode) => n.membership.member(n.id)!.addr;
  peers[0]!.join(now, []);
  for (const p of peers.slice(1)) p.join(now, [addrOf(peers[0]!)]);
  core.join(now, peers.map(addrOf));
  for (let round = 0; round < JOIN_ROUNDS_MAX; round++) {
    let moved = 0;
    for (const from of all) {
      for (let t = from.pollTransmit(); t; t = from.pollTransmit()) {
        all.find((n) => addrOf(n) === t.to)?.handleDatagram(now, addrOf(from), t.bytes);
        moved++;
      }
      while (from.pollEvent() !== undefined) { /* persisted by nobody: the peers are stand-ins */ }
    }
    if (moved === 0) break;
  }
  const alive = core.membership.members().filter((m) => m.state === 'alive').length;
  if (alive !== all.length) throw new Error(`in-process join: the writing node sees ${alive} of ${all.length} members alive`);
}

let requestCount = 0;

/** A sealed `put` that creates sample contact `i`, from `client`, as tui/client.ts sends it. */
export function putRequest(client: BenchClient, i: number, server: NodeId = WRITER_ID): Uint8Array {
  const id = newContactId();
  const args = toAsciiJson({ opId: `op-${id}`, patch: { kind: 'create', contact: sampleContact(id, i) } });
  const packet = encodePacket({ cluster: CLUSTER, from: client.from }, [
    { type: 'clientReq', reqId: ++requestCount, op: 'put', args: args + ' '.repeat(Math.max(0, PAD_TO_CHARS - args.length)) },
  ]);
  // Named to the writing node in its boot (epoch 1), as tui/client.ts does once a first answer told it who the server is.
  const target = { server, epoch: WRITER_EPOCH };
  return sealRequest(nodeCrypto, { credential: client.credential, timeMs: Date.now(), nonce: new Uint8Array(randomBytes(12)), target }, client.kc, packet);
}

/**
 * A sealed `putMany` that creates sample contacts `first`..`first + count - 1`,
 * from `client`, as tui/client.ts sends it: fragmented to its datagram
 * budget, each piece sealed on its own.
 */
export function putManyRequest(client: BenchClient, first: number, count: number, server: NodeId = WRITER_ID): Uint8Array[] {
  const writes = Array.from({ length: count }, (_, k) => {
    const id = newContactId();
    return { opId: `op-${id}`, patch: { kind: 'create', contact: sampleContact(id, first + k) } };
  });
  const reqId = ++requestCount;
  const header = { cluster: CLUSTER, from: client.from };
  const packet = encodePacket(header, [{ type: 'clientReq', reqId, op: 'putMany', args: toAsciiJson({ writes }) }]);
  const budget = CLIENT_BUDGET_BYTES - REQUEST_HEADER_BYTES - TAG_BYTES;
  const datagrams = packet.length > budget ? fragmentPacket(header, packet, reqId, budget) : [packet];
  const target = { server, epoch: WRITER_EPOCH };
  return datagrams.map((d) => sealRequest(nodeCrypto, { credential: client.credential, timeMs: Date.now(), nonce: new Uint8Array(randomBytes(12)), target }, client.kc, d));
}

/** Opens an answer sent to `client`; throws unless it is a successful client answer. */
export function checkAnswer(client: BenchClient, bytes: Uint8Array): ClientRes {
  const opened = openAnswer(nodeCrypto, client.kc, bytes, client.answerKeys);
  if (opened.kind !== 'packet') throw new Error(`answer to ${client.addr}: ${opened.kind}`);
  const r = decodePacket(opened.packet, CLUSTER);
  const m = r.ok ? r.packet.messages[0] : undefined;
  if (m?.type !== 'clientRes') throw new Error(`answer to ${client.addr} is not a client answer`);
  if (!m.ok) throw new Error(`write refused: ${m.result}`);
  return m;
}
