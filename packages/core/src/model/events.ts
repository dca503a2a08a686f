import { z } from 'zod';
import { type Address, address, formatAddress, parseAddress } from '../address/address.js';
import { isCrossTalkError } from '../errors/errors.js';

/**
 * The canonical model: every event kind docs/DESIGN.md names, as zod schemas. In memory an address is
 * an `Address` object; the JSON form (CLI, G2G, DHT) writes it as the string `user@network`.
 * Schemas are codecs: `z.decode` turns JSON into events, `z.encode` turns events into JSON.
 */

/** Caps for data crossing a trust boundary (G2G, DHT, CLI input). */
export const LIMITS = {
  /** Characters in a message or status text. */
  text: 64 * 1024,
  /** Characters in a display, group, file or media type name. */
  name: 1024,
  /** Characters in an event id. */
  id: 256,
  /** Buddies in one roster event. */
  rosterItems: 10_000,
  /** Groups one buddy is filed under. */
  groups: 64,
  /** Characters in an SDP offer. */
  sdp: 64 * 1024,
} as const;

/** An address as a zod codec: a `user@network` string in JSON, an `Address` object in memory. */
export const AddressSchema = z.codec(
  z.string().max(3071),
  z.custom<Address>(
    (v) => typeof v === 'object' && v !== null && typeof (v as Address).user === 'string',
    // abort: never run the encoder on something that is not an address
    { message: 'expected an address object', abort: true },
  ),
  {
    decode: (s, ctx) => {
      try {
        return parseAddress(s);
      } catch (error) {
        ctx.issues.push({
          code: 'custom',
          input: s,
          message: isCrossTalkError(error) ? error.message : String(error),
        });
        return z.NEVER;
      }
    },
    // Validate on the way out too, so what we write always reads back.
    encode: (a) => formatAddress(address(a.user, a.network)),
  },
);

const id = z.string().min(1).max(LIMITS.id);
const text = z.string().max(LIMITS.text);
const name = z.string().max(LIMITS.name);
/** Milliseconds since the Unix epoch. */
const timestamp = z.number().int().nonnegative();

/** The XEP-0085 chat states, in the order the spec lists them. */
export const TYPING_STATES = ['active', 'composing', 'paused', 'inactive', 'gone'] as const;
/** Every status a `PresenceEvent` can carry. */
export const PRESENCE_STATUSES = ['online', 'away', 'busy', 'idle', 'invisible', 'offline'] as const;
/** RFC 6121 subscription states of a roster item. */
export const SUBSCRIPTIONS = ['none', 'to', 'from', 'both'] as const;

/** The schema of an `ImEvent`. */
export const ImEventSchema = z.object({
  /** Tells the event kinds apart. */
  kind: z.literal('im'),
  /** The message's id. */
  id,
  /** The sender. */
  from: AddressSchema,
  /** The recipient. */
  to: AddressSchema,
  /** Plain text; always present, even when `html` carries the formatted form. */
  text,
  /** The same message with formatting, as XHTML-IM-style markup. */
  html: text.optional(),
  /** When it was sent, ms since the epoch. */
  sentAt: timestamp,
});

/** XEP-0085 chat states; protocols with only on/off typing map to composing / paused / active. */
export const TypingEventSchema = z.object({
  /** Tells the event kinds apart. */
  kind: z.literal('typing'),
  /** The user typing. */
  from: AddressSchema,
  /** The user they are typing to. */
  to: AddressSchema,
  /** The chat state. */
  state: z.enum(TYPING_STATES),
});

/** The schema of a `PresenceEvent`. */
export const PresenceEventSchema = z.object({
  /** Tells the event kinds apart. */
  kind: z.literal('presence'),
  /** The user whose presence this is. */
  from: AddressSchema,
  /** Set for presence directed at one buddy; absent for a broadcast. */
  to: AddressSchema.optional(),
  /** What the user is (online, away, ...). */
  status: z.enum(PRESENCE_STATUSES),
  /** Status message ("away message", personal message, custom status). */
  text: text.optional(),
  /** When the user went idle, ms since the epoch. */
  idleSince: timestamp.optional(),
});

/** The schema of a `RosterItem`. */
export const RosterItemSchema = z.object({
  /** The buddy. */
  address: AddressSchema,
  /** The name the owner gave the buddy, where the protocol keeps one. */
  name: name.optional(),
  /** The groups the buddy is filed under (none: ungrouped). */
  groups: z.array(name).max(LIMITS.groups),
  /** RFC 6121 §2.1.2.5 subscription states, seen from the roster owner. */
  subscription: z.enum(SUBSCRIPTIONS),
  /** The owner asked for this buddy's authorisation and is still waiting. */
  pending: z.boolean(),
});

/** The schema of a `RosterEvent`. */
export const RosterEventSchema = z.object({
  /** Tells the event kinds apart. */
  kind: z.literal('roster'),
  /** The user whose list this is. */
  owner: AddressSchema,
  /** The buddies on it. */
  items: z.array(RosterItemSchema).max(LIMITS.rosterItems),
});

/** The schema of a `BuddyRequestEvent`. */
export const BuddyRequestEventSchema = z.object({
  /** Tells the event kinds apart. */
  kind: z.literal('buddy-request'),
  /** The protocol's id for the request, where it has one. */
  id: id.optional(),
  /** The user who asks. */
  from: AddressSchema,
  /** The user asked. */
  to: AddressSchema,
  /** The requester's display name, where the protocol sends one. */
  name: name.optional(),
  /** The text sent with the request, where the protocol carries one. */
  message: text.optional(),
});

/** The schema of a `BuddyResponseEvent`. */
export const BuddyResponseEventSchema = z.object({
  /** Tells the event kinds apart. */
  kind: z.literal('buddy-response'),
  /** The id of the request answered, where the protocol has one. */
  id: id.optional(),
  /** The user who answered. */
  from: AddressSchema,
  /** The user who asked. */
  to: AddressSchema,
  /** True when the request was accepted. */
  accepted: z.boolean(),
  /** The text sent with the answer, where the protocol carries one. */
  message: text.optional(),
});

/** The schema of a `FileOfferEvent`. */
export const FileOfferEventSchema = z.object({
  /** Tells the event kinds apart. */
  kind: z.literal('file-offer'),
  /** The offer's id: what a transfer refers to. */
  id,
  /** The user offering the file. */
  from: AddressSchema,
  /** The user it is offered to. */
  to: AddressSchema,
  /** The file's name. */
  name,
  /** The file's size in bytes. */
  size: z.number().int().nonnegative(),
  /** The file's media type, when the sender gave one. */
  mediaType: name.optional(),
  /** Lower-case hex SHA-256 of the whole file, for verification after a (resumed) transfer. */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});

/** The schema of a `CallInviteEvent`. */
export const CallInviteEventSchema = z.object({
  /** Tells the event kinds apart. */
  kind: z.literal('call-invite'),
  /** The call's id. */
  id,
  /** The caller. */
  from: AddressSchema,
  /** The user called. */
  to: AddressSchema,
  /** SIP-style SDP offer. */
  sdp: z.string().max(LIMITS.sdp),
  /** What the call carries: audio, video or both. */
  media: z.array(z.enum(['audio', 'video'])).min(1),
});

/**
 * What a `CallSignalEvent` says about a call, in the order a call goes: the callee's phone rings,
 * the callee answers (with the SDP answer), declines, is busy or did not answer in time; the
 * caller cancels before the answer; either party hangs up an answered call. Who may say which is
 * the receiver's to check (docs/ARCHITECTURE.md "Calls").
 */
export const CALL_SIGNALS = ['ringing', 'answer', 'decline', 'busy', 'timeout', 'cancel', 'hangup'] as const;

/** The schema of a `CallSignalEvent`. */
export const CallSignalEventSchema = z.object({
  /** Tells the event kinds apart. */
  kind: z.literal('call-signal'),
  /** The id of the call (its `call-invite`'s id). */
  id,
  /** The party who signals. */
  from: AddressSchema,
  /** The other party. */
  to: AddressSchema,
  /** What happened to the call. */
  signal: z.enum(CALL_SIGNALS),
  /** The callee's SDP answer (with `answer` only). */
  sdp: z.string().max(LIMITS.sdp).optional(),
  /** Why, for people (a SIP reason phrase, "no answer"). */
  reason: name.optional(),
});

/** The schema of any `CanonicalEvent`, told apart by `kind`; `eventFromJson` and `eventToJson` use it. */
export const CanonicalEventSchema = z.discriminatedUnion('kind', [
  ImEventSchema,
  TypingEventSchema,
  PresenceEventSchema,
  RosterEventSchema,
  BuddyRequestEventSchema,
  BuddyResponseEventSchema,
  FileOfferEventSchema,
  CallInviteEventSchema,
  CallSignalEventSchema,
]);

/** A message from one user to another. */
export interface ImEvent extends z.output<typeof ImEventSchema> {}
/** A change in whether a user is typing to another. */
export interface TypingEvent extends z.output<typeof TypingEventSchema> {}
/** One of the XEP-0085 chat states a `TypingEvent` carries. */
export type TypingState = TypingEvent['state'];
/** A user's status (online, away, ...), broadcast to their buddies or directed at one. */
export interface PresenceEvent extends z.output<typeof PresenceEventSchema> {}
/** What a `PresenceEvent` says a user is. */
export type PresenceStatus = PresenceEvent['status'];
/** One buddy in a user's list. */
export interface RosterItem extends z.output<typeof RosterItemSchema> {}
/** Whether presence flows to, from, both ways or neither way between a roster's owner and a buddy. */
export type Subscription = RosterItem['subscription'];
/** A user's whole buddy list, as their server holds it. */
export interface RosterEvent extends z.output<typeof RosterEventSchema> {}
/** A user asks to add another as a buddy (and to see their presence). */
export interface BuddyRequestEvent extends z.output<typeof BuddyRequestEventSchema> {}
/** The answer to a `BuddyRequestEvent`. */
export interface BuddyResponseEvent extends z.output<typeof BuddyResponseEventSchema> {}
/** A user offers a file to another. */
export interface FileOfferEvent extends z.output<typeof FileOfferEventSchema> {}
/** A user invites another to a voice or video call. */
export interface CallInviteEvent extends z.output<typeof CallInviteEventSchema> {}
/** A call's progress after its invite: ringing, answered, declined, cancelled, hung up. */
export interface CallSignalEvent extends z.output<typeof CallSignalEventSchema> {}
/** One of the `CALL_SIGNALS` a `CallSignalEvent` carries. */
export type CallSignal = CallSignalEvent['signal'];
/** Any event of the canonical model, told apart by `kind`. */
export type CanonicalEvent =
  | ImEvent
  | TypingEvent
  | PresenceEvent
  | RosterEvent
  | BuddyRequestEvent
  | BuddyResponseEvent
  | FileOfferEvent
  | CallInviteEvent
  | CallSignalEvent;
/** The `kind` of a canonical event (`im`, `typing`, ...). */
export type EventKind = CanonicalEvent['kind'];
/** The JSON form of an event: addresses as `user@network` strings. */
export type CanonicalEventJson = z.input<typeof CanonicalEventSchema>;

/** Every `EventKind`, in the order the model lists them. */
export const EVENT_KINDS: readonly EventKind[] = [
  'im',
  'typing',
  'presence',
  'roster',
  'buddy-request',
  'buddy-response',
  'file-offer',
  'call-invite',
  'call-signal',
];
