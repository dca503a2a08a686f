import type { Address } from '../address/address.js';
import type { NetworkRules } from '../address/networks.js';
import { joinBytes } from '../bytes/bytes.js';
import type { CrossTalkError, ProtocolError } from '../errors/errors.js';
import type { CanonicalEvent, FileOfferEvent, RosterItem } from '../model/events.js';
import type { FeatureSet } from '../model/features.js';

/**
 * The codec contract every protocol package implements. Everything here is sans-IO: bytes in,
 * frames and events out, so every protocol corner is testable without sockets.
 */

/** Brand for codecs: identity by a registered symbol, never `instanceof` (dual ESM/CJS copies). */
export const codecSymbol: unique symbol = Symbol.for('@crosstalk/codec') as never;

/** Who wrote the bytes: `client` = bytes the client sends, `server` = bytes the server sends. */
export type Direction = 'client' | 'server';

/** A sniff's answer: `yes` (this protocol), `no`, or `more` (not enough bytes to tell). */
export type SniffResult = 'yes' | 'no' | 'more';

// ------------------------------------------------------------------ framer

/** Caps a framer enforces on what it reads from the wire. */
export interface FramerOptions {
  /** Largest frame accepted, checked against the wire length before any allocation. */
  maxFrameSize?: number;
  /** Most bytes held while waiting for a frame to complete. Defaults to `maxFrameSize`. */
  maxBuffered?: number;
}

/**
 * Splits a byte stream into whole frames. Accepts any chunking. Lossless: the frames it returns,
 * concatenated, are exactly the bytes it consumed. After an error it is terminal: every later
 * call throws the same error. When bad bytes follow good frames in one chunk, `push` returns the
 * good frames and sets `error` (nothing accepted is lost): check `error` after each push.
 */
export interface Framer {
  /** Takes the next bytes of the stream; returns the frames they completed. */
  push(chunk: Uint8Array): Uint8Array[];
  /** Declares end of stream; throws `TruncatedStreamError` if a frame is incomplete. */
  end(): void;
  /** Bytes held for an incomplete frame. Never above `maxBuffered`. */
  readonly buffered: number;
  /** Total bytes consumed so far (offsets in errors are relative to the stream start). */
  readonly offset: number;
  /** The error that made this framer terminal, if any. */
  readonly error: ProtocolError | undefined;
}

// ------------------------------------------------------------------ frames

/**
 * Structured frames. `encode(decode(raw))` is byte-identical for every frame the codec
 * understands; frames it does not understand decode to a raw pass-through form.
 */
export interface FrameCodec<F> {
  /** Decodes one whole frame (as a framer returned it) sent in `direction`. */
  decode(raw: Uint8Array, direction: Direction): F;
  /** The frame's bytes. */
  encode(frame: F): Uint8Array;
  /** A JSON-safe form of a frame (bytes as `{ "$hex": ... }`), read back by `fromJson`. */
  toJson(frame: F): unknown;
  /** Reads a frame back from `toJson`'s form; throws `MalformedFrameError` when it is not one. */
  fromJson(json: unknown): F;
}

// ------------------------------------------------------------------ translation

/** Options of `Codec.createTranslator`. */
export interface TranslatorOptions {
  /** Which addresses are foreign (native names such as `bob@yahoo` map to them). Default: `defaultIsForeign`. */
  isForeign?: (address: Address) => boolean;
  /** Clock for timestamps the protocol does not carry (ms since the epoch). */
  now?: () => number;
  /** Id generator for events and protocol cookies. */
  newId?: () => string;
  /** The logged-in user, when known in advance (e.g. a session on a connection tied by a cookie). */
  self?: Address;
}

/**
 * Stateful mapping between frames and canonical events for one connection: it learns who is
 * logged in from the login frames, so an incoming message gets its `to` address.
 */
export interface Translator<F> {
  /** The canonical events a frame carries, as sent in `direction` (none for frames that carry none). */
  toEvents(frame: F, direction: Direction): CanonicalEvent[];
  /**
   * Frames carrying `event` as `direction` would send it (`client`: as the client sends it to the
   * server; `server`: as the server delivers it to the client). Throws `UnsupportedEventError`.
   */
  fromEvent(event: CanonicalEvent, direction: Direction): F[];
  /** The logged-in user, once the login frames named them. */
  readonly self: Address | undefined;
}

// ------------------------------------------------------------------ proxy session

/**
 * What a proxy session reports to the gateway as the bytes go by: who logged in, what the user sent or said
 * about itself, server redirects and refusals.
 */
export type SessionEvent =
  /** The client named the user it is logging in as (not yet confirmed by the server). */
  | {
      type: 'identified';
      /** The user the client names. */
      address: Address;
    }
  /** The server confirmed the login. Only now may anything be intercepted, injected or published. */
  | {
      type: 'verified';
      /** The user the server confirmed. */
      address: Address;
    }
  /** The server refused the login; `code` is the server's own error code. */
  | {
      type: 'login-failed';
      /** The user who tried, when the client named them. */
      address?: Address;
      /** The server's error code, as the protocol spells it. */
      code: string;
      /** The server's explanation, when it sent one. */
      message?: string;
    }
  /** The client addressed a foreign user; the frame was withheld from the server. */
  | {
      type: 'outbound';
      /** The event, for the gateway to route. */
      event: CanonicalEvent;
    }
  /**
   * The client changed something about itself that it sent to its own server and that foreign
   * buddies should also see (its presence broadcast): passed through, and mirrored by the gateway.
   */
  | {
      type: 'self';
      /** What the client said about itself. */
      event: CanonicalEvent;
    }
  /** A canonical event the server sent the client, passed through unchanged (for observers). */
  | {
      type: 'inbound';
      /** The event the server sent. */
      event: CanonicalEvent;
    }
  /** The server's roster passed by; `merged` are the foreign items the session added to it. */
  | {
      type: 'roster';
      /** Whose roster it is. */
      owner: Address;
      /** The server's own items. */
      items: RosterItem[];
      /** The foreign items the session added. */
      merged: RosterItem[];
    }
  /** The server named another server to connect to (MSNP XFR/RNG, OSCAR BOS hand-off). */
  | {
      type: 'redirect';
      /** The server named. */
      host: string;
      /** Its port. */
      port: number;
      /** What the connection is for (`notification`, `switchboard`, ...). */
      purpose: string;
    }
  /** A delivered event lost features on the way into this protocol. */
  | {
      type: 'feature-loss';
      /** The event as it was before. */
      event: CanonicalEvent;
      /** The features it lost. */
      lost: readonly string[];
    }
  /** The stream became unreadable to the proxy (STARTTLS); the session only relays from now on. */
  | {
      type: 'opaque';
      /** Why the stream cannot be read. */
      reason: string;
    }
  /**
   * A whole frame the session could not decode or translate (`error` says why) was passed on
   * untouched instead of closing the connection: a server frame about a contact (a buddy's status
   * text, say) must not end the connection of every user who has that contact. Nothing was
   * reported or withheld for it. The engine logs it and counts it.
   */
  | {
      type: 'untranslated';
      /** Who sent the frame: `server` (the usual case) or `client`. */
      direction: Direction;
      /** Why the session could not decode or translate it. */
      error: ProtocolError;
    }
  /** A file pushed to the client (`FilePush`) may take its next block, of at most `max` bytes. */
  | {
      type: 'file-ready';
      /** The offer the transfer carries. */
      offerId: string;
      /** The most bytes the next block may hold (the block size the client accepted). */
      max: number;
    }
  /**
   * A file pushed to the client (`FilePush`) ended: the client confirmed the end, or it refused or
   * cut the transfer (`error`, typed). Only that transfer ends; the connection goes on.
   */
  | {
      type: 'file-closed';
      /** The offer the transfer carried. */
      offerId: string;
      /** Why it failed; absent when the client confirmed the end. */
      error?: CrossTalkError;
    }
  /**
   * The session needs its server connection no more (an MSNP switchboard whose conversation only
   * the gateway plays): the engine writes what this output has for the server, then closes that
   * connection and keeps the client's, so the conversation holds one descriptor, not two. The
   * session sends nothing to the server after it.
   */
  | {
      type: 'server-released';
      /** Why the server connection is no longer needed. */
      reason: string;
    }
  /** The session ended; `error` is the protocol error that ended it, if any. */
  | {
      type: 'closed';
      /** Why the session ended. */
      reason: string;
      /** The protocol error that ended it, if any. */
      error?: ProtocolError;
    };

/**
 * What a proxy session returns for each chunk: bytes for the server, bytes for the client, and events for the
 * gateway.
 */
export interface SessionOutput {
  /** Bytes to send to the server, in order. */
  toServer: Uint8Array[];
  /** Bytes to send to the client, in order. */
  toClient: Uint8Array[];
  /** What happened, for the gateway. */
  events: SessionEvent[];
}

/**
 * Where a proxy session is: before login (`connecting`, `identified`), logged in (`verified`), given up on
 * understanding the stream (`opaque`), or `closed`.
 */
export type SessionState = 'connecting' | 'identified' | 'verified' | 'opaque' | 'closed';

/**
 * One proxied client connection. Before `verified`, the session is a plain relay that only
 * watches: nothing is withheld or injected (the identity gate). Bad input throws a
 * `ProtocolError`, or, when good frames came before it in the same chunk, returns their output
 * ending with a `closed` event that carries the error; either way the session is closed and the
 * engine writes what it got, then closes that one connection. A whole server frame that the
 * session cannot decode or translate is not bad input of this connection: it goes to the client
 * untouched, with an `untranslated` event.
 */
export interface ProxySession {
  /** The codec's protocol id. */
  readonly protocol: string;
  /** Where the session is (see `SessionState`). */
  readonly state: SessionState;
  /** The user this connection belongs to, once identified (or known from a cookie). */
  readonly user: Address | undefined;
  /** Takes bytes the client sent; returns what to pass on (or withhold) and what happened. */
  fromClient(chunk: Uint8Array): SessionOutput;
  /** Takes bytes the server sent; returns what to pass on and what happened. */
  fromServer(chunk: Uint8Array): SessionOutput;
  /** Injects an event for this user into the client stream. Throws `SessionStateError` before `verified`. */
  deliver(event: CanonicalEvent): SessionOutput;
  /**
   * How well this connection can deliver `event`, so the engine can pick among one user's
   * connections: 0 it cannot (wrong state or kind), 1 it can, 2 it is the conversation the event
   * belongs to (an MSNP switchboard already talking to that buddy).
   */
  affinity(event: CanonicalEvent): number;
  /** The engine is closing the connection; last words for either side. */
  close(reason: string): SessionOutput;
  /**
   * The connection carried nothing either way for the engine's idle time. A session that ends such
   * a connection itself, as its server would (an MSNP switchboard the gateway plays: `BYE` for the
   * other participants, then the connection closes), returns those last words with a `closed`
   * event; undefined (or no method) keeps the connection open.
   */
  endIfIdle?(): SessionOutput | undefined;
  /** Present when the protocol can carry a file's bytes to the client (XMPP: XEP-0047). */
  readonly files?: FilePush;
}

/**
 * Pushing an offered file's bytes into the client stream, in the protocol's own way (XMPP: an
 * XEP-0047 in-band bytestream from the offering user). Sans-IO like the session: each call returns
 * what to write; the client's answers come back through `fromClient` as `file-ready` (send the
 * next block) and `file-closed` events. The engine brings the bytes, and the timers.
 */
export interface FilePush {
  /** Starts a transfer of `offer` (delivered to the client before) in blocks of at most `blockSize` bytes. */
  open(offer: FileOfferEvent, blockSize: number): SessionOutput;
  /** The next block, after a `file-ready` for the offer; at most its `max` bytes. */
  block(offerId: string, data: Uint8Array): SessionOutput;
  /** Ends the transfer: every block was sent, or (`error`) the engine gives up on it. */
  close(offerId: string, error?: CrossTalkError): SessionOutput;
}

/** Cookies that tie one login's connections together (OSCAR BOS cookie, MSNP switchboard cookie). */
export interface CookieTable {
  /** Records a cookie the server issued to a verified user, with protocol data for the next connection. */
  record(protocol: string, cookie: string, owner: Address, data?: unknown): void;
  /** Looks a cookie up without consuming it. */
  lookup(protocol: string, cookie: string): { owner: Address; data: unknown } | undefined;
  /** Forgets a cookie once the connection presenting it was accepted or refused. */
  forget(protocol: string, cookie: string): void;
}

/** Addresses the gateway answers itself (e.g. an MSNP switchboard for a conversation with a foreign buddy). */
export interface VirtualEndpoints {
  /** Reserves a host:port; a SOCKS CONNECT there opens a session with `ctx.virtual.data === data`. */
  allocate(protocol: string, data: unknown): { host: string; port: number };
  /** Frees an address `allocate` handed out. */
  release(host: string, port: number): void;
}

/** What the engine gives each session: small and explicit (docs/DESIGN.md "One login, several connections"). */
export interface SessionContext {
  /** The proxied connection's id, for logs and events. */
  readonly connectionId: string;
  /** Where the client asked to connect. */
  readonly target: { host: string; port: number };
  /** True when `address` is on a network this gateway bridges and is not this connection's own network. */
  isForeign(address: Address): boolean;
  /** The owner's foreign buddies, to merge into the roster the server sends. */
  foreignRoster(owner: Address): readonly RosterItem[];
  /** Cookies shared by the gateway's sessions (a login cookie issued on one connection, redeemed on another). */
  readonly cookies: CookieTable;
  /** Addresses the gateway answers itself (a switchboard it plays for a foreign buddy). */
  readonly endpoints: VirtualEndpoints;
  /** Present when the client connected to a virtual endpoint: there is no server side. */
  readonly virtual?: { readonly data: unknown };
  /** The clock, ms since the epoch. */
  now(): number;
  /** A fresh id for events and protocol cookies. */
  newId(): string;
}

// ------------------------------------------------------------------ the codec

/**
 * What `defineCodec` takes: a protocol's networks, features, sniffer, framer, frame codec, translator and
 * proxy session.
 */
export interface CodecInit {
  /** The protocol id (lower case): what registries, logs and metrics name it by. */
  protocol: string;
  /**
   * Network ids this codec's users are on (`aol`, `yahoo`, `irc`). Every one that is not built in
   * becomes a known network when the codec is defined, so other protocols see it as foreign.
   */
  networks: readonly string[];
  /** Naming rules for the codec's own networks (validation and normalisation of user names). */
  networkRules?: Readonly<Record<string, Partial<NetworkRules>>>;
  /** What the protocol carries (see `FEATURES`); translation reports what it loses. */
  features: FeatureSet;
  /** Sniff order when several codecs might match; higher first. An explicit field, never registration order. */
  priority?: number;
  /** Well-known server ports, for documentation and for tshark port mappings. */
  defaultPorts?: readonly number[];
  /**
   * Recognises the protocol from the first bytes of whichever side speaks first (OSCAR servers
   * speak first; MSNP, YMSG and XMPP clients do). `more` asks for more bytes.
   */
  sniff(head: Uint8Array, direction: Direction): SniffResult;
  /** A framer for the bytes one side sends. */
  createFramer(direction: Direction, options?: FramerOptions): Framer;
  /** Decodes and encodes the protocol's frames. */
  frames: FrameCodec<unknown>;
  /** A translator between frames and canonical events, for one connection. */
  createTranslator(options?: TranslatorOptions): Translator<unknown>;
  /** A proxy session for one client connection. */
  openSession(ctx: SessionContext): ProxySession;
}

/**
 * A codec made by `defineCodec`: its `CodecInit`, with defaults filled in and branded so `isCodec` recognises
 * it.
 */
export interface Codec<F = unknown> extends Readonly<Omit<CodecInit, 'frames' | 'createTranslator'>> {
  /** The brand `isCodec` tests. */
  readonly [codecSymbol]: true;
  /** Sniff order; higher first (default 0). */
  readonly priority: number;
  /** Well-known server ports (empty when none was given). */
  readonly defaultPorts: readonly number[];
  /** Decodes and encodes the protocol's frames. */
  readonly frames: FrameCodec<F>;
  /** A translator between frames and canonical events, for one connection. */
  createTranslator(options?: TranslatorOptions): Translator<F>;
}

/** A `SessionOutput` with nothing in it. */
export function emptyOutput(): SessionOutput {
  return { toServer: [], toClient: [], events: [] };
}

/**
 * `out` with each side's buffers copied into one: what `fromClient`/`fromServer` return never
 * aliases the chunk passed in (the caller may reuse it, as with framers), and each side leaves in
 * one write. The OSCAR, XMPP and MSNP sessions return through it (YMSG copies each part itself, and
 * its tests read the parts: the list, the merged buddies, the rest of the chunk).
 */
export function joinOutput(out: SessionOutput): SessionOutput {
  if (out.toServer.length > 0) out.toServer = [joinBytes(out.toServer)];
  if (out.toClient.length > 0) out.toClient = [joinBytes(out.toClient)];
  return out;
}

/** Appends `more` to `into` and returns `into`. */
export function mergeOutput(into: SessionOutput, more: SessionOutput): SessionOutput {
  for (const b of more.toServer) into.toServer.push(b);
  for (const b of more.toClient) into.toClient.push(b);
  for (const e of more.events) into.events.push(e);
  return into;
}
