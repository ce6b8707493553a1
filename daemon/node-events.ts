/**
 * What the daemon does with each event the core emits: log it, persist it,
 * tell systemd. The only place in the shell that knows the membership's
 * event vocabulary; replication and client events get their own cases here
 * (or a sibling file) when the core grows them.
 *
 * How this works: one handler per event type, called by the driver in the
 * order the core emitted them. Log records carry `event` and the member's
 * `id`, `name`, `addr`, `state`, `previous`, `incarnation` as fields, so
 * they can be filtered (and the integration tests wait on them); a contact
 * change is logged at debug as `event: 'contact'` with the contact's `id`,
 * state `version` (hex), `live` and `local` (written here, or received). A persist
 * that fails is logged and counted but not fatal: the worst case is a
 * restart below the incarnation others last heard, which the node refutes
 * at once.
 */
import type { StoreChange } from '../protocol/contacts/store.ts';
import { isLive } from '../protocol/contacts/state.ts';
import { version } from '../protocol/contacts/view.ts';
import type { Logger } from 'pino';
import type { NodeEvent } from '../protocol/node.ts';
import type { MemberView } from '../protocol/membership/member-table.ts';
import type { SystemdNotifier } from './systemd.ts';
import { keyIdText } from '../protocol/security/envelope.ts';

export interface EventContext {
  log: Logger;
  /** Durable key/value store (state.ts). */
  save(key: string, value: unknown): void;
  notifier: SystemdNotifier;
  /** Every member the core knows, for the status line. */
  members(): readonly MemberView[];
  /** The shell's own counters (metrics read them). */
  shell: { stateWriteErrors: number };
  /** Whether this node runs with a cluster key (a join that gets no answer may then be a key it lacks). */
  keyed?: boolean;
}

/** Turns core events into logs, writes and notifications; `left` resolves `whenLeft`. */
export class NodeEventHandler {
  private joined = false;
  private lastStatus = '';
  private resolveLeft!: () => void;
  /** Resolves when the core reports that our graceful leave has spread. */
  readonly whenLeft = new Promise<void>((resolve) => { this.resolveLeft = resolve; });

  constructor(private readonly ctx: EventContext) {}

  get isJoined(): boolean {
    return this.joined;
  }

  handle(e: NodeEvent): void {
    const { log } = this.ctx;
    switch (e.type) {
      case 'member': {
        const m = e.member;
        log.info({ event: 'member', id: m.id, name: m.name, addr: m.addr, state: m.state, previous: e.previous, incarnation: m.incarnation },
          `member ${m.name} ${m.state}${e.previous === 'none' ? '' : ` (was ${e.previous})`}`);
        return this.updateStatus();
      }
      case 'member-removed':
        log.info({ event: 'member-removed', id: e.member.id, name: e.member.name, state: e.member.state }, `forgot ${e.member.state} member ${e.member.name}`);
        return this.updateStatus();
      case 'joined':
        this.joined = true;
        log.info({ event: 'joined', members: e.members }, e.members > 1 ? `joined the cluster: ${e.members} members alive` : 'started a new cluster (no seed, no known members)');
        this.ctx.notifier.ready(this.statusText());
        this.lastStatus = this.statusText();
        return;
      case 'join-retry': {
        // A keyed node's seeds drop what they cannot open, silently: after a few tries, say that this may be why.
        const hint = this.ctx.keyed && e.attempt >= 3
          ? '. If the seeds are up, they may not hold this node\'s key: a key rotation may have happened while it was away (the members log a key-alert naming this node); put the cluster\'s current key in --key-file and restart'
          : '';
        log.info({ event: 'join-retry', attempt: e.attempt, nextRetryMs: e.nextRetryMs }, `no seed answered yet; join attempt ${e.attempt} sent, next in ${(e.nextRetryMs / 1000).toFixed(1)} s${hint}`);
        // Still starting: keep systemd's start timeout from killing a node that waits for its seeds.
        if (!this.joined) {
          this.ctx.notifier.extendTimeout(e.nextRetryMs + 30_000);
          this.ctx.notifier.status(`joining: attempt ${e.attempt}, no seed answered yet`);
        }
        return;
      }
      case 'refuted':
        log.warn({ event: 'refuted', incarnation: e.incarnation }, `refuted a suspicion or death notice about this node: now incarnation ${e.incarnation}`);
        return;
      case 'left':
        log.info({ event: 'left' }, 'leave announced to the cluster');
        this.resolveLeft();
        return;
      case 'contact-changed':
        // One line per applied change, at debug only: the version lets a reader (the integration
        // tests, the replication bench) see when a node holds exactly what another one wrote.
        if (log.isLevelEnabled('debug')) {
          log.debug({ event: 'contact', id: e.id, version: version(e.state).toString(16), live: isLive(e.state), local: e.local },
            `contact ${e.id} ${e.local ? 'written here' : 'received'}`);
        }
        return;
      case 'key-file-retired':
        log.warn({ event: 'key-file-retired', keyId: keyIdText(e.keyId) },
          `the key file holds key ${keyIdText(e.keyId)}, which a rotation removed from the cluster's keyring; it is ignored (the keyring in the data dir is current). Put the cluster's current key in the key file, so that this node could join again with an empty data dir`);
        return;
      case 'key-file-unused':
        log.warn({ event: 'key-file-unused', keyId: keyIdText(e.keyId), reason: e.reason, primary: keyIdText(e.primary) }, e.reason === 'full'
          ? `the key file holds key ${keyIdText(e.keyId)}, which the keyring in the data dir lacks, and the ring is full: it is not used. Remove a key that is not primary (contacts keys remove), then restart or \`contacts keys install\` it`
          : `the key file holds key ${keyIdText(e.keyId)}, which the keyring in the data dir lacked: it is installed (and spreads to the members) but this node still seals with ${keyIdText(e.primary)}, the cluster's primary. To rotate, wait until every member holds it (contacts keys list), then \`contacts keys use ${keyIdText(e.keyId)}\`, then remove the old key`);
        return;
      case 'key-alert': return this.keyAlert(e);
      case 'keyring-changed':
        log.info({ event: 'keyring-changed', keys: e.keys.map(keyIdText), primary: keyIdText(e.primary), removed: e.removed.map(keyIdText) },
          `keyring now ${e.keys.map(keyIdText).join(', ')}; sealing with ${keyIdText(e.primary)}`);
        return;
      case 'persist':
        // Contact store changes go to SQLite as one transaction per drain (see commitBarrier);
        // the membership snapshot is a small file of its own.
        if ('change' in e) {
          this.storeChanges.push(e.change);
          return;
        }
        return this.persist(e.key, e.value);
    }
  }

  /** Datagrams sealed with a key this node does not hold: say plainly who cannot talk to whom, and what to do (at most one a minute). */
  private keyAlert(e: Extract<NodeEvent, { type: 'key-alert' }>): void {
    const who = e.senderName ? `member ${e.senderName} (${e.from})` : `${e.from}${e.sender ? ` (node ${e.sender})` : ''}`;
    const held = e.held.map(keyIdText).join(', ');
    const key = keyIdText(e.keyId);
    const count = `${e.datagrams} datagram${e.datagrams === 1 ? '' : 's'}`;
    const others = e.otherDatagrams > 0
      ? ` (also ${e.otherDatagrams} datagram${e.otherDatagrams === 1 ? '' : 's'} under ${e.otherKeys} other unknown key id${e.otherKeys === 1 ? '' : 's'}: forged, or from another cluster)`
      : '';
    const msg = e.removedByRotation
      ? `${count} from ${who} sealed with key ${key}, which a rotation removed from the cluster: it missed the rotation and cannot rejoin until it has the current key ${keyIdText(e.primary)}. Put that key in its --key-file and restart it.${others}`
      : e.senderName
      ? `${count} from ${who} sealed with key ${key}, which this node does not hold (it holds ${held}): this node has most likely missed a key rotation while it was down or cut off, and the members no longer take what it sends. Put the cluster's current key (${key}, if ${e.senderName} is up to date: \`contacts keys list\` on a member shows it) in this node's --key-file and restart it.${others}`
      : `${count} from ${who} sealed with key ${key}, which this node does not hold (it holds ${held}). If the cluster's key was rotated while this node was away, this node cannot rejoin: put the cluster's current key in --key-file and restart it (\`contacts keys list\` on a member shows the key ids). If ${who} is the one behind, give it the current key instead.${others}`;
    this.ctx.log.error({
      event: 'key-alert', from: e.from, sender: e.sender, keyId: key, datagrams: e.datagrams, otherKeys: e.otherKeys, otherDatagrams: e.otherDatagrams,
      removedByRotation: e.removedByRotation, held: e.held.map(keyIdText),
    }, msg);
  }

  /** Store changes since the last commit, in order. */
  private readonly storeChanges: StoreChange[] = [];

  /** Takes the store changes waiting to be committed (the driver's commit barrier). */
  takeStoreChanges(): StoreChange[] {
    return this.storeChanges.splice(0);
  }

  private persist(key: string, value: unknown): void {
    try {
      this.ctx.save(key, value);
      this.ctx.log.debug({ event: 'persisted', key }, `saved ${key}`);
    } catch (err) {
      this.ctx.shell.stateWriteErrors++;
      this.ctx.log.error({ event: 'persist-error', key, err }, `cannot save ${key} to the data directory: ${(err as Error).message}`);
    }
  }

  private statusText(): string {
    const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.ctx.members()) counts[m.state] = (counts[m.state] ?? 0) + 1;
    return `${counts.alive} members alive, ${counts.suspect} suspect, ${counts.dead} dead, ${counts.left} left`;
  }

  private updateStatus(): void {
    if (!this.joined) return;
    const text = this.statusText();
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    this.ctx.notifier.status(text);
  }
}
