/**
 * A keyed node's security: which datagrams it takes, how it seals its own,
 * and its keyring.
 *
 * How this works.
 * - Modes, for moving a running cluster from plain to sealed gossip without
 *   downtime (memberlist's GossipVerifyIncoming/Outgoing): `accept` takes
 *   sealed and plain datagrams and sends plain; `send` takes both and sends
 *   sealed; `require` (the default) takes only sealed ones. Give every node
 *   the key in `accept`, then move every node to `send`, then to `require`;
 *   at each step every node can read what every other sends.
 * - Inbound: a datagram that starts like a plain packet is passed on only
 *   when the mode accepts plain ones; a sealed one goes through
 *   packet-security.ts; anything else is refused before any decoding.
 * - Outbound: in `send` and `require` every datagram is sealed under the
 *   primary key; a datagram whose Transmit asks for sealing (keyring news)
 *   is sealed in every mode.
 * - The key from the operator's key file is installed if the ring lacks it
 *   and becomes this node's primary; a key file naming a key that a
 *   rotation removed is ignored and reported (the ring is newer than it).
 * Everything that must survive a restart leaves as a `persist` event: the
 * ring, and the highest epoch seen per sender.
 */
import type { Address, NodeId, Transmit } from '../types.ts';
import type { SecurityCrypto } from './crypto.ts';
import { looksPlain, SEALED_V1, type KeyId } from './envelope.ts';
import { Keyring, keyIdOf, keyringToJson, type KeyringState } from './keyring.ts';
import { PacketSecurity, type OpenFailure } from './packet-security.ts';

/** Which datagrams a keyed node takes and sends; see the file comment. */
export type SecurityMode = 'accept' | 'send' | 'require';
export const SECURITY_MODES: readonly SecurityMode[] = ['accept', 'send', 'require'];

/** What a keyed node is built with. */
export interface NodeSecurityInit {
  crypto: SecurityCrypto;
  /** This boot's epoch, raised and persisted by the driver before the core is built. */
  epoch: number;
  mode?: SecurityMode;
  /** What an earlier life persisted. */
  restored?: { keyring?: KeyringState | undefined; peerEpochs?: Record<string, number> | undefined };
  /** The key from the operator's key file (32 bytes). */
  keyFileKey?: Uint8Array | undefined;
}

export type SecurityEvent =
  | { type: 'persist'; key: 'keyring' | 'peer-epochs'; value: unknown }
  /** The key file names a key a rotation removed: ignored, the ring from the data dir is used. */
  | { type: 'key-file-retired'; keyId: KeyId };

/** Why an inbound datagram was refused by security. */
export type SecurityDrop = OpenFailure;

/** The outcome of `admit`: a plain packet to decode, with who sealed it, or a refusal. */
export type Admitted =
  | { ok: true; packet: Uint8Array; sealedBy: NodeId | undefined; keyId: KeyId | undefined }
  | { ok: false; reason: SecurityDrop; keyId?: KeyId; sender?: NodeId };

export interface SecurityServiceInit {
  id: NodeId;
  cluster: string;
  security: NodeSecurityInit;
}

export class SecurityService {
  readonly keyring: Keyring;
  readonly packets: PacketSecurity;
  private modeNow: SecurityMode;
  private readonly events: SecurityEvent[] = [];

  constructor(private readonly init: SecurityServiceInit) {
    const s = init.security;
    this.modeNow = s.mode ?? 'require';
    this.keyring = new Keyring(s.restored?.keyring);
    this.packets = new PacketSecurity({
      crypto: s.crypto, cluster: init.cluster, self: init.id, epoch: s.epoch, keys: this.keyring, peerEpochs: s.restored?.peerEpochs,
    });
    if (s.keyFileKey) this.installKeyFileKey(s.keyFileKey);
    if (!this.keyring.primary()) throw new TypeError('a keyed node needs a key: give it a key file, or a restored keyring');
  }

  get mode(): SecurityMode {
    return this.modeNow;
  }

  /** Changes the mode (a reload); takes effect with the next datagram. */
  setMode(mode: SecurityMode): void {
    this.modeNow = mode;
  }

  /** Decides what to do with one inbound datagram before anything decodes it. Never throws. */
  admit(from: Address, bytes: Uint8Array): Admitted {
    if (bytes[0] === SEALED_V1) {
      const r = this.packets.open(from, bytes);
      if (!r.ok) return r;
      const epochs = this.packets.takeChangedPeerEpochs();
      if (epochs) this.events.push({ type: 'persist', key: 'peer-epochs', value: epochs });
      return { ok: true, packet: r.packet, sealedBy: r.sender, keyId: r.keyId };
    }
    if (looksPlain(bytes) && this.modeNow !== 'require') return { ok: true, packet: bytes, sealedBy: undefined, keyId: undefined };
    return { ok: false, reason: 'unauthenticated' };
  }

  /** `t` as it goes on the wire: sealed unless the mode sends plain and `t` does not ask for sealing. */
  seal(t: Transmit): Transmit {
    if (this.modeNow === 'accept' && !t.sealed) return t;
    return { to: t.to, bytes: this.packets.seal(t.to, t.bytes) };
  }

  pollEvent(): SecurityEvent | undefined {
    return this.events.shift();
  }

  private installKeyFileKey(secret: Uint8Array): void {
    const key = { id: keyIdOf(this.init.security.crypto, secret), secret };
    const r = this.keyring.install(key);
    if (r === 'removed') this.events.push({ type: 'key-file-retired', keyId: key.id });
    if (r !== 'installed') return;
    this.keyring.use(key.id, this.init.id);
    this.persistKeyring();
  }

  private persistKeyring(): void {
    this.events.push({ type: 'persist', key: 'keyring', value: keyringToJson(this.keyring.state()) });
  }
}
