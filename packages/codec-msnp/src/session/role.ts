import {
  type Address,
  type CanonicalEvent,
  emptyOutput,
  type SessionContext,
  type SessionEvent,
  type SessionOutput,
} from '@crosstalk/core';
import type { MsnpFrame } from '../command/command.js';
import { encodeFrame } from '../command/frame-codec.js';

/** What one kind of MSNP connection does with its frames; `MsnpProxySession` picks one per connection. */
export interface ConnectionRole {
  readonly kind: 'notification' | 'switchboard' | 'virtual-switchboard' | 'relay';
  readonly user: Address | undefined;
  readonly verified: boolean;
  fromClient(raw: Uint8Array, frame: MsnpFrame, out: SessionOutput): void;
  fromServer(raw: Uint8Array, frame: MsnpFrame, out: SessionOutput): void;
  deliver(event: CanonicalEvent, out: SessionOutput): void;
  affinity(event: CanonicalEvent): number;
  close(reason: string, out: SessionOutput): void;
  /** The connection was quiet for the engine's idle time: true when the role ended it (in `out`). */
  endIfIdle?(out: SessionOutput): boolean;
}

/** Server errors meaning "no such passport" (Escargot misc.py `Err`: 201, 205, 207; MSNP wiki: 208). */
export const UNKNOWN_PRINCIPAL: ReadonlySet<number> = new Set([201, 205, 207, 208]);

/** Small helpers every role uses to fill a `SessionOutput`. */
export function toClient(out: SessionOutput, ...frames: MsnpFrame[]): void {
  for (const f of frames) out.toClient.push(encodeFrame(f));
}

export function toServer(out: SessionOutput, ...frames: MsnpFrame[]): void {
  for (const f of frames) out.toServer.push(encodeFrame(f));
}

export function emit(out: SessionOutput, ...events: SessionEvent[]): void {
  for (const e of events) out.events.push(e);
}

export function output(): SessionOutput {
  return emptyOutput();
}

/** `host:port` as XFR and RNG write it; undefined when it is not one. */
export function parseHostPort(spelled: string | undefined): { host: string; port: number } | undefined {
  if (spelled === undefined) return undefined;
  const colon = spelled.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const port = Number(spelled.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) return undefined;
  return { host: spelled.slice(0, colon), port };
}

/** A session id or cookie we make up: digits only, as the real service's session ids are. */
export function digitsId(ctx: SessionContext): string {
  const id = ctx.newId();
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return `${(h % 900_000_000) + 100_000_000}`;
}

/** A switchboard cookie we make up: `digits.digits.digits`, the shape of the MSNP wiki's examples. */
export function cookieId(ctx: SessionContext): string {
  return `${digitsId(ctx)}.${digitsId(ctx)}.${digitsId(ctx)}`;
}
