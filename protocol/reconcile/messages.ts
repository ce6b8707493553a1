/**
 * The digest-repair messages, a discriminated union on `type`, and their size
 * on the wire.
 *
 * How this works: the initiator says hello with its set's count and
 * fingerprint; the responder answers `rcEqual` or `rcDiffer` (its own count
 * and fingerprint, and the first coded symbols). The initiator then asks for
 * more symbols, first by sending estimator cells (`rcEstimate`, the responder
 * sizes the batch) and later by explicit ranges (`rcMore`), or switches to the
 * responder's plain item list (`rcList` → `rcItems`) when that is cheaper.
 * Every reply names the absolute range it carries, so lost, duplicated and
 * reordered messages are harmless: the initiator keeps what extends its
 * contiguous prefix, and on a timeout asks again for exactly the gaps.
 *
 * Field names are short because these objects are measured as cbor-x encodes
 * them (a map with string keys); the project codec may map them to arrays.
 * `encodedBytes` reproduces cbor-x's size for these shapes exactly (checked
 * in the tests), so the protocol can fill datagrams without encoding twice.
 */

/** Initiator → responder: start of a session. */
export interface RcHello {
  type: 'rcHello';
  /** Session id (u32); also salts the item → symbol mapping. */
  sid: number;
  /** Item count of the initiator's set. */
  n: number;
  /** Fingerprint of the initiator's set (16 bytes). */
  fp: Uint8Array;
}

/** Responder → initiator: the sets are equal; the session is over. */
export interface RcEqual {
  type: 'rcEqual';
  sid: number;
}

/** Responder → initiator: the sets differ; the responder's digest and symbols [0, sym.length/12). */
export interface RcDiffer {
  type: 'rcDiffer';
  sid: number;
  n: number;
  fp: Uint8Array;
  /** End of this first batch (more `rcSymbols` follow when end exceeds what `sym` holds). */
  end: number;
  sym: Uint8Array;
}

/** Initiator → responder: send symbols from `from`, as many as these estimator cells suggest. */
export interface RcEstimate {
  type: 'rcEstimate';
  sid: number;
  from: number;
  cells: Uint8Array;
}

/** Initiator → responder: send symbols [from, upTo). */
export interface RcMore {
  type: 'rcMore';
  sid: number;
  from: number;
  upTo: number;
}

/** Responder → initiator: coded symbols [at, at + sym.length/12) of a batch ending at `end`. */
export interface RcSymbols {
  type: 'rcSymbols';
  sid: number;
  at: number;
  end: number;
  sym: Uint8Array;
}

/** Initiator → responder: send your sorted items [from, upTo). */
export interface RcList {
  type: 'rcList';
  sid: number;
  from: number;
  upTo: number;
}

/** Responder → initiator: sorted items [at, at + items.length/8) (u64 LE) of a batch ending at `end`. */
export interface RcItems {
  type: 'rcItems';
  sid: number;
  at: number;
  end: number;
  items: Uint8Array;
}

/** Initiator → responder: the difference is known; drop the session. */
export interface RcDone {
  type: 'rcDone';
  sid: number;
}

export type ReconcileMessage = RcHello | RcEqual | RcDiffer | RcEstimate | RcMore | RcSymbols | RcList | RcItems | RcDone;

/** Default datagram budget in bytes (the encoded message must fit it). */
export const DEFAULT_BUDGET_BYTES = 1400;

/** Smallest budget the chunking supports (a hello and a few symbols). */
export const MIN_BUDGET_BYTES = 160;

function uintBytes(v: number): number {
  return v < 24 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : v < 0x100000000 ? 5 : 9;
}

/** Size of one value as cbor-x encodes it: unsigned ints, short ASCII strings, Uint8Array (tag 64). */
function valueBytes(v: unknown): number {
  if (typeof v === 'number') return uintBytes(v);
  if (typeof v === 'string') return uintBytes(v.length) + v.length;
  if (v instanceof Uint8Array) return 2 + uintBytes(v.length) + v.length;
  throw new TypeError(`no size rule for ${typeof v}`);
}

/** Bytes of `msg` as cbor-x encodes it (an object is a map with a 16-bit length header). */
export function encodedBytes(msg: ReconcileMessage): number {
  let size = 3;
  for (const [key, value] of Object.entries(msg)) size += 1 + key.length + valueBytes(value);
  return size;
}

/** How many `unitBytes`-sized entries fit in one message of `type` (with u32 fields at their widest). */
export function unitsPerMessage(type: 'rcSymbols' | 'rcItems' | 'rcDiffer', unitBytes: number, budgetBytes: number): number {
  // Every digest session asks (a node starts one every 10 s and answers others'): the answer never changes.
  const key = `${type}/${unitBytes}/${budgetBytes}`;
  let units = unitsMemo.get(key);
  if (units === undefined) {
    units = computeUnitsPerMessage(type, unitBytes, budgetBytes);
    if (unitsMemo.size < 64) unitsMemo.set(key, units);
  }
  return units;
}
const unitsMemo = new Map<string, number>();

function computeUnitsPerMessage(type: 'rcSymbols' | 'rcItems' | 'rcDiffer', unitBytes: number, budgetBytes: number): number {
  const payloadKey = type === 'rcItems' ? 'items' : 'sym';
  const widest = type === 'rcDiffer'
    ? { type, sid: 0xffffffff, n: 0xffffffff, fp: new Uint8Array(16), end: 0xffffffff }
    : { type, sid: 0xffffffff, at: 0xffffffff, end: 0xffffffff };
  // Payload header: tag 64 (2 bytes) + a byte-string length of up to 3 bytes.
  const overhead = encodedBytes(widest as ReconcileMessage) + 1 + payloadKey.length + 5;
  return Math.max(1, Math.floor((budgetBytes - overhead) / unitBytes));
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isU32 = (v: unknown): boolean => isCount(v) && v <= 0xffffffff;
const isBytes = (v: unknown, unit: number): boolean => v instanceof Uint8Array && v.length % unit === 0;

/** True when `msg` has the fields its type requires, with sane values (checked before any use). */
export function isWellFormed(msg: ReconcileMessage): boolean {
  const m = msg as unknown as Record<string, unknown>;
  if (typeof m !== 'object' || m === null || !isU32(m.sid)) return false;
  switch (msg.type) {
    case 'rcHello':
      return isCount(m.n) && isBytes(m.fp, 16) && (m.fp as Uint8Array).length === 16;
    case 'rcDiffer':
      return isCount(m.n) && isBytes(m.fp, 16) && (m.fp as Uint8Array).length === 16 && isCount(m.end) && isBytes(m.sym, 12);
    case 'rcEstimate':
      return isCount(m.from) && m.cells instanceof Uint8Array;
    case 'rcMore':
    case 'rcList':
      return isCount(m.from) && isCount(m.upTo) && m.from < m.upTo;
    case 'rcSymbols':
      return isCount(m.at) && isCount(m.end) && isBytes(m.sym, 12);
    case 'rcItems':
      return isCount(m.at) && isCount(m.end) && isBytes(m.items, 8);
    case 'rcEqual':
    case 'rcDone':
      return true;
    default:
      return false;
  }
}
