/** Types for unix-dgram 2 (the package ships none): only what systemd.ts and its test use. */
declare module 'unix-dgram' {
  import type { EventEmitter } from 'node:events';

  export interface UnixDgramSocket extends EventEmitter {
    /** Emits 'listening', or 'error' when bind(2) fails. */
    bind(path: string): void;
    /** sendto(2); the callback runs synchronously, with an Error on failure (code 1: the receiver's buffer is full). */
    send(buf: Buffer, offset: number, length: number, path: string, callback?: (err?: Error) => void): void;
    close(): void;
  }

  /** A new unix datagram socket; `listener` gets each message received (after bind). */
  export function createSocket(type: 'unix_dgram', listener?: (msg: Buffer) => void): UnixDgramSocket;
}
