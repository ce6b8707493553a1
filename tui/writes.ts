/**
 * What the CLI and the TUI both put in a write: fresh ids, and the op that
 * settles a conflict. Ids are ULIDs made on the client (real clock, crypto
 * randomness), so a request retried anywhere names the same contact, entry
 * and op.
 */
import { randomBytes } from 'node:crypto';
import { ulid } from '../protocol/contacts/ids.ts';
import type { FieldConflict } from '../protocol/contacts/model.ts';

let lastMs = -1;
let lastRandom = new Uint8Array(10);

/**
 * A fresh ULID: a contact id, list-entry uid or op id. Monotonic within
 * this process (two in one millisecond differ by one in the random part),
 * so entries made in a row (the phones of one form) keep their order:
 * readers list entries in uid order.
 */
export function newId(): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    lastRandom = new Uint8Array(randomBytes(10));
  } else {
    for (let i = lastRandom.length - 1; i >= 0 && ++lastRandom[i]! === 256; i--) lastRandom[i] = 0;
  }
  return ulid(lastMs, lastRandom);
}

/** The field op that keeps `value` for a conflicted field (send it with the contact's `seen` as read context). */
export function resolveOp(conflict: FieldConflict, value: unknown): Record<string, unknown> {
  if (conflict.field.startsWith('x:')) return { op: 'setExtra', name: conflict.field.slice(2), values: value };
  if (conflict.uid) return { op: 'put', field: conflict.field, uid: conflict.uid, value };
  return { op: 'set', field: conflict.field, value };
}
