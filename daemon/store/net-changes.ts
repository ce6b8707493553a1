/**
 * Folds a run of StoreChanges into its net effect, so one transaction does
 * one write per row however many times the batch touched it.
 *
 * How this works: a batch from many writers often touches the same rows
 * (the applied cloud and the clock on every write, one contact several
 * times). Every change kind is state-based: a put carries the whole state,
 * a forget removes everything of a contact, a fence replaces the fence, a
 * clock replaces the clock, applied dots and index floors only grow, an
 * old-life bound replaces the contact's (the store journals the bound it
 * now holds). So the last put-or-forget per contact, the last fence per
 * contact, the last old-life bound per contact (in the order of their last
 * change: the oldest is dropped first), the last clock, the union of
 * applied clouds and the max of floors are exactly what applying the
 * changes one by one in order would leave. A forget also clears the
 * contact's fence, as MemoryStore.forget does.
 */
import { cloudUnion, EMPTY_CLOUD, vvMax, type DotCloud, type VersionVector } from '../../protocol/contacts/dots.ts';
import type { TombstoneFence } from '../../protocol/contacts/gc.ts';
import type { Hlc } from '../../protocol/contacts/hlc.ts';
import type { ContactId } from '../../protocol/contacts/ids.ts';
import type { StoreChange } from '../../protocol/contacts/store.ts';
import { stateJson } from './codec.ts';

/** A StoreChange as the writer thread takes it: a put carries its contact's id and column text (stateJson), not the state. */
export type WriterChange = Exclude<StoreChange, { kind: 'put' }> | { readonly kind: 'put'; readonly id: ContactId; readonly json: string };

/** `changes` for the writer thread: what a structured clone copies cheaply (strings and small plain objects). */
export function toWriterChanges(changes: readonly StoreChange[]): WriterChange[] {
  return changes.map((c) => (c.kind === 'put' ? { kind: 'put', id: c.state.id, json: stateJson(c.state) } : c));
}

/** What a batch leaves behind, row by row. */
export interface NetChanges {
  /** Contacts whose last change is a put: their final state's column text. */
  readonly puts: Map<ContactId, string>;
  /** Contacts whose last change is a forget. */
  readonly forgets: Set<ContactId>;
  /** Fences to write (a value) or delete (undefined), after the contacts. */
  readonly fences: Map<ContactId, TombstoneFence | undefined>;
  /** Old-life bounds to write (forgottenFloor), in the order of their last change. */
  readonly oldLives: Map<ContactId, VersionVector>;
  /** Dots newly applied (union of every 'applied'). */
  readonly applied: DotCloud;
  /** The last clock, if the batch set one. */
  readonly clock: Hlc | undefined;
  /** The highest index floor, if the batch pruned. */
  readonly indexFloor: VersionVector | undefined;
  /** How many changes were folded. */
  readonly count: number;
}

/** The net effect of `batches`, applied in order. */
export function foldChanges(batches: readonly (readonly WriterChange[])[]): NetChanges {
  const puts = new Map<ContactId, string>();
  const forgets = new Set<ContactId>();
  const fences = new Map<ContactId, TombstoneFence | undefined>();
  const oldLives = new Map<ContactId, VersionVector>();
  let applied: DotCloud = EMPTY_CLOUD;
  let clock: Hlc | undefined;
  let indexFloor: VersionVector | undefined;
  let count = 0;
  for (const batch of batches) {
    for (const c of batch) {
      count++;
      switch (c.kind) {
        case 'put':
          puts.set(c.id, c.json);
          forgets.delete(c.id);
          break;
        case 'forget':
          puts.delete(c.id);
          forgets.add(c.id);
          fences.set(c.id, undefined);
          break;
        case 'fence':
          fences.set(c.id, c.fence);
          break;
        case 'oldLife':
          oldLives.delete(c.id);
          oldLives.set(c.id, c.bound);
          break;
        case 'applied':
          applied = cloudUnion(applied, c.dots);
          break;
        case 'clock':
          clock = c.hlc;
          break;
        case 'pruneIndex':
          indexFloor = vvMax(indexFloor ?? {}, c.below);
          break;
      }
    }
  }
  return { puts, forgets, fences, oldLives, applied, clock, indexFloor, count };
}
