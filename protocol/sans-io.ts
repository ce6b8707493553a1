/**
 * The contract between a sans-I/O protocol core and whatever drives it: the
 * daemon (real socket, real clock, SQLite) or the simulator (virtual network,
 * virtual clock, memory).
 *
 * The driver's loop, in full:
 *   1. when a datagram arrives: `handleDatagram(now, from, bytes)`;
 *   2. when `now >= pollTimeout()`: `handleTimeout(now)`;
 *   3. after either, drain `pollTransmit()` onto the network and
 *      `pollEvent()` into the application (and durable storage), then re-arm
 *      one timer at `pollTimeout()`.
 * The core never blocks, never throws on bad input from the network (it drops
 * and counts it), and never reads a clock: `now` is whatever the driver says.
 */
import type { Address, TimeMs, Transmit } from './types.ts';

export interface SansIoCore<Event> {
  /** Feeds one received datagram. Malformed or foreign input is dropped and counted. */
  handleDatagram(now: TimeMs, from: Address, bytes: Uint8Array): void;
  /** Runs every timer due at or before `now`. Calling it early is harmless. */
  handleTimeout(now: TimeMs): void;
  /** Next datagram to send, or undefined when none is queued. */
  pollTransmit(): Transmit | undefined;
  /** Next event for the application, or undefined. */
  pollEvent(): Event | undefined;
  /** Earliest time at which `handleTimeout` has work to do; undefined when idle. */
  pollTimeout(): TimeMs | undefined;
}
