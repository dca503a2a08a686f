import { createHash } from 'node:crypto';
import {
  type Address,
  addressKey,
  type BuddyRequestEvent,
  type BuddyResponseEvent,
  type CanonicalEvent,
  type Dht,
  eventFromJson,
  eventToJson,
  type G2gContact,
  isCrossTalkError,
  type PresenceEvent,
} from '@crosstalk/core';
import { z } from 'zod';
import { InvalidRecordError, UnauthorisedRecordError } from '../errors/errors.js';
import type { GatewayIdentity } from '../g2g/identity.js';
import { G2G_VERSION } from '../g2g/wire.js';
import {
  type CapabilityBody,
  CapabilityBodySchema,
  CapabilityIndexBodySchema,
  type CapabilityIndexEntry,
  type CapabilityRecord,
  knownFeatures,
} from '../routing/capability-records.js';
import { capabilityIndexKey, parseEdge } from '../routing/formats.js';
import { KeyedSerial } from '../serial/keyed-serial.js';
import { ContactSchema } from './contact.js';
import { type DirectoryRecord, encodeRecord, type RecordKind, signRecord, verifyRecord } from './records.js';

/** What waits in the DHT for an offline user: a buddy request, or the answer to one. */
export type PendingEvent = BuddyRequestEvent | BuddyResponseEvent;

/** Verified records remembered (their bytes are the key; a refresh stores new bytes). */
const MAX_VERIFIED = 50_000;

/** Where a user is online: the gateway that serves them, how to reach it, and when it said so. */
export interface Location {
  gateway: string;
  /** How to reach the gateway: its G2G transport's contact (e.g. `{ transport: 'tcp', host, port }`). */
  contact: G2gContact;
  issuedAt: number;
  /** When the record lapses unless its gateway re-signs it (a gateway that crashed does not). */
  expiresAt: number;
  /**
   * The G2G version the gateway announces (`G2G_VERSION`); absent for 1, a gateway from before
   * LOCATED frames, which is sent plain EVENTs only.
   */
  g2g?: number;
}

/**
 * A location record's body: the gateway's contact and the user's presence (status, text, idle
 * time; the subject is whose). One record, so a refresh is one put and a presence read one lookup,
 * and a presence is believed exactly when its location is (issue 20).
 */
const LocationBody = z.object({
  contact: ContactSchema,
  presence: z.record(z.string(), z.unknown()).optional(),
  /** The G2G version its gateway speaks; absent for 1 (a reader of version 1 ignores the field). */
  g2g: z.number().int().positive().optional(),
});
type LocationBody = z.output<typeof LocationBody>;
const HomeBody = z.object({ since: z.number().int().nonnegative() });

export interface DirectoryOptions {
  dht: Dht;
  identity: GatewayIdentity;
  now?: () => number;
  /** Lifetime of soft state (location, presence), ms; refreshed by the gateway while users are online. */
  softTtl?: number;
  /** Lifetime of a pending buddy request, ms; refreshed by its holder. */
  pendingTtl?: number;
  /**
   * Lifetime of capability records, ms; refreshed by the gateway. Default 10 minutes (or the soft
   * TTL if longer): capabilities change only when a gateway starts or stops.
   */
  capabilityTtl?: number;
  /** Most pending requests kept for one user. */
  maxPendingPerUser?: number;
  /** When set, only records from these gateways are believed. */
  trusted?: (gatewayId: string) => boolean;
  /**
   * How far ahead of this gateway's clock a record may be dated, ms (default 30 s). Newest wins
   * among location records, so a record dated ahead would win for as long as it lives.
   */
  maxClockSkew?: number;
  /**
   * Told about every record that failed verification or came from a gateway that may not say it
   * (for logs and metrics); `code` is the refusal's error code.
   */
  onRejected?: (key: string, reason: string, code: string) => void;
  /** Told each time a record's signature is checked (for metrics: the cost of reads). */
  onVerified?: (kind: RecordKind) => void;
  /**
   * The G2G version this gateway's location records announce (default `G2G_VERSION`); 1 announces
   * none, as a gateway from before LOCATED frames (interoperability tests).
   */
  g2gVersion?: number;
}

/**
 * The typed, signed layer over the DHT: user location, presence, pending buddy requests and
 * capabilities. Reads verify every record and skip the ones that fail; writes sign with this
 * gateway's key and store with a secret only this gateway knows, so only it can remove them.
 */
export class Directory {
  readonly #dht: Dht;
  readonly #identity: GatewayIdentity;
  readonly #now: () => number;
  readonly #secret: string;
  /** Lifetime of location and presence records, ms. */
  readonly softTtl: number;
  /** Lifetime of a held buddy request, ms. */
  readonly pendingTtl: number;
  /** Lifetime of capability records, ms. */
  readonly capabilityTtl: number;
  /** Most buddy requests held for one user. */
  readonly maxPendingPerUser: number;
  readonly #trusted: ((id: string) => boolean) | undefined;
  /** How far ahead of this gateway's clock a record may be dated, ms. */
  readonly maxClockSkew: number;
  readonly #onRejected: ((key: string, reason: string, code: string) => void) | undefined;
  readonly #onVerified: ((kind: RecordKind) => void) | undefined;
  /** Records whose signatures were already verified, by their stored bytes. */
  readonly #verified = new Map<string, DirectoryRecord>();
  /** What this gateway last stored per key, so it can remove exactly that value. */
  readonly #mine = new Map<string, Uint8Array[]>();
  /**
   * This gateway's newest location record per key, from the moment it is signed (before the DHT
   * holds it): what its G2G events carry for their senders.
   */
  readonly #ownLocations = new Map<string, Uint8Array>();
  readonly #g2gVersion: number;
  /**
   * Writes (replace or withdraw) one key at a time, in the order asked: a withdrawal asked for
   * after a re-sign (a user's presence changed as they left) removes that record, not the one
   * before it, and the newer of two re-signs is the one left standing.
   */
  readonly #writing = new KeyedSerial();

  constructor(options: DirectoryOptions) {
    this.#dht = options.dht;
    this.#identity = options.identity;
    this.#now = options.now ?? Date.now;
    this.softTtl = Math.min(options.softTtl ?? 60_000, options.dht.limits.maxTtl);
    this.pendingTtl = Math.min(options.pendingTtl ?? 24 * 60 * 60 * 1000, options.dht.limits.maxTtl);
    this.capabilityTtl = Math.min(
      options.capabilityTtl ?? Math.max(10 * 60 * 1000, this.softTtl),
      options.dht.limits.maxTtl,
    );
    this.maxPendingPerUser = options.maxPendingPerUser ?? 32;
    this.#trusted = options.trusted;
    this.maxClockSkew = options.maxClockSkew ?? 30_000;
    this.#onRejected = options.onRejected;
    this.#onVerified = options.onVerified;
    this.#g2gVersion = options.g2gVersion ?? G2G_VERSION;
    this.#secret = createHash('sha256').update(dhtSecretSeed(options.identity)).digest('hex');
  }

  /** The DHT key of a user's location records. */
  static locationKey = (user: Address) => `loc:${addressKey(user)}`;
  /** The DHT key of the buddy requests held for a user. */
  static pendingKey = (user: Address) => `pending:${addressKey(user)}`;
  /** The DHT key of a user's home records (where they logged in first). */
  static homeKey = (user: Address) => `home:${addressKey(user)}`;

  // ------------------------------------------------------------ location

  /**
   * Says that `user` is served here now, reachable at this gateway's G2G `contact`, and (when
   * given) their presence; replaces this gateway's previous record for them, presence included.
   */
  async publishLocation(user: Address, contact: G2gContact, presence?: PresenceEvent): Promise<void> {
    const body: LocationBody = { contact, ...(this.#g2gVersion >= 2 ? { g2g: this.#g2gVersion } : {}) };
    if (presence) {
      if (addressKey(presence.from) !== addressKey(user))
        throw new InvalidRecordError(
          `a location record of ${addressKey(user)} cannot carry another user's presence`,
        );
      // The subject says whose it is; a directed presence (`to`) is not published.
      const { kind: _kind, from: _from, to: _to, ...rest } = eventToJson(presence) as Record<string, unknown>;
      body.presence = rest;
    }
    await this.#replace('location', Directory.locationKey(user), addressKey(user), body, this.softTtl);
  }

  /** Removes this gateway's location record for the user (their presence with it). */
  async withdrawLocation(user: Address): Promise<void> {
    // Said at once: events sent from now on carry no record for a user who is leaving.
    this.#ownLocations.delete(Directory.locationKey(user));
    await this.#withdraw(Directory.locationKey(user));
  }

  /**
   * This gateway's newest location record for `user`, as stored (signed, maybe not yet in the DHT):
   * attached to the G2G events it sends for them, so the receiver need not look them up.
   * Undefined when this gateway publishes none for them, or announces G2G version 1.
   */
  ownLocation(user: Address): Uint8Array | undefined {
    return this.#g2gVersion >= 2 ? this.#ownLocations.get(Directory.locationKey(user)) : undefined;
  }

  /** The newest valid location record for `user`, if any gateway serves them now. */
  async lookupLocation(user: Address): Promise<Location | undefined> {
    const newest = await this.#newestLocation(user);
    return newest && toLocation(newest.record, newest.body);
  }

  /**
   * A location record that came with an event from gateway `publisher` (a LOCATED frame), checked
   * as a read checks one (signature, dates, a trusted publisher in a closed federation) and as
   * `user`'s and `publisher`'s own. Throws `InvalidRecordError` or `UnauthorisedRecordError`,
   * counted as rejected records.
   */
  readLocation(user: Address, value: Uint8Array, publisher: string): Location {
    const key = Directory.locationKey(user);
    const record = this.#checked('location', key, addressKey(user), value);
    if (record.publisher !== publisher) {
      const error = new InvalidRecordError(
        `location record signed by ${record.publisher.slice(0, 12)}… came from ${publisher.slice(0, 12)}…`,
      );
      this.#reject(key, error);
      throw error;
    }
    // Rejected (counted) by `#locationBody` when malformed.
    const body = this.#locationBody(key, record);
    if (!body) throw new InvalidRecordError(`location record of ${record.subject} is malformed`);
    return toLocation(record, body);
  }

  /** A checked location record's body, or undefined (rejected as malformed) when it is not one. */
  #locationBody(key: string, record: DirectoryRecord): LocationBody | undefined {
    const body = LocationBody.safeParse(record.body);
    if (body.success) return body.data;
    this.#reject(key, new InvalidRecordError(`location record of ${record.subject} is malformed`));
    return undefined;
  }

  /** The newest well-formed location record for `user`, with its body. */
  async #newestLocation(user: Address): Promise<{ record: DirectoryRecord; body: LocationBody } | undefined> {
    const key = Directory.locationKey(user);
    const subject = addressKey(user);
    let best: { record: DirectoryRecord; body: LocationBody } | undefined;
    for (const r of await this.#read('location', key, subject)) {
      const body = this.#locationBody(key, r);
      if (!body) continue;
      // Newest wins (dates are bounded by the skew limit); a tie goes the same way at every reader.
      const b = best?.record;
      if (!b || r.issuedAt > b.issuedAt || (r.issuedAt === b.issuedAt && r.publisher < b.publisher))
        best = { record: r, body };
    }
    return best;
  }

  // ------------------------------------------------------------ home: the gateway a user last logged in through

  /**
   * Records that `user` logged in through this gateway at `since` (kept for the pending TTL, long
   * after the location expires): who may hold pending requests and answers from an offline user.
   * A restart republishes the original `since`, so it never outbids a later login elsewhere.
   */
  async publishHome(user: Address, since: number): Promise<void> {
    await this.#replace('home', Directory.homeKey(user), addressKey(user), { since }, this.pendingTtl);
  }

  /** The gateway `user` last logged in through, by the newest `since` no later than its record. */
  async lookupHome(user: Address): Promise<{ gateway: string; since: number } | undefined> {
    const records = await this.#read('home', Directory.homeKey(user), addressKey(user));
    let best: { gateway: string; since: number } | undefined;
    for (const r of records) {
      const body = HomeBody.safeParse(r.body);
      if (!body.success || body.data.since > r.issuedAt) continue;
      const since = body.data.since;
      if (!best || since > best.since || (since === best.since && r.publisher < best.gateway))
        best = { gateway: r.publisher, since };
    }
    return best;
  }

  /** The gateway that speaks for `user` now: its location holder, or when offline its home. */
  async gatewayOf(user: Address): Promise<string | undefined> {
    return (await this.lookupLocation(user))?.gateway ?? (await this.lookupHome(user))?.gateway;
  }

  // ------------------------------------------------------------ presence

  /**
   * The user's presence, carried in their location record: believed only from the gateway that
   * holds the user's location, since it is that record, and always the record's subject's.
   */
  async lookupPresence(user: Address): Promise<PresenceEvent | undefined> {
    return (await this.lookupOnline(user))?.presence;
  }

  /**
   * Where the user is online and their presence, from one read of their newest location record
   * (`lookupLocation` and `lookupPresence` in one lookup); undefined when no gateway serves them.
   */
  async lookupOnline(user: Address): Promise<
    | {
        /** Where the user is online: the gateway that serves them, and how to reach it. */
        location: Location;
        /** The presence the record carries, if it carries a valid one. */
        presence: PresenceEvent | undefined;
      }
    | undefined
  > {
    const newest = await this.#newestLocation(user);
    if (!newest) return undefined;
    return {
      location: toLocation(newest.record, newest.body),
      presence: this.#presenceIn(user, newest.body),
    };
  }

  /** The presence a location record of `user` carries, if it carries a valid one. */
  #presenceIn(user: Address, body: LocationBody): PresenceEvent | undefined {
    const presence = body.presence;
    if (!presence) return undefined;
    const subject = addressKey(user);
    try {
      // The subject says whose presence it is: a record cannot speak for another user.
      const event = eventFromJson({ ...presence, kind: 'presence', from: subject });
      return event.kind === 'presence' ? event : undefined;
    } catch {
      this.#reject(
        Directory.locationKey(user),
        new InvalidRecordError(`location record of ${subject} carries an invalid presence`),
      );
      return undefined;
    }
  }

  // ------------------------------------------------------------ pending buddy requests

  /**
   * Stores (or re-signs and refreshes) a request for an offline user. Returns the stored value, which
   * the holder keeps in its hard state to refresh or remove it later; undefined when the user
   * already has `maxPendingPerUser` pending requests.
   */
  async holdPending(request: PendingEvent, previous?: Uint8Array): Promise<Uint8Array | undefined> {
    const key = Directory.pendingKey(request.to);
    if (!previous) {
      // The bound is per holder: another gateway's requests (or a squatter's) take none of ours.
      const existing = await this.#read('buddy-request', key, addressKey(request.to));
      const mine = existing.filter((r) => r.publisher === this.#identity.id);
      if (mine.length >= this.#pendingShare) return undefined;
    }
    const value = this.#encode(
      'buddy-request',
      addressKey(request.to),
      eventToJson(request),
      this.pendingTtl,
    );
    await this.#dht.put(key, value, { ttl: this.pendingTtl, secret: this.#secret });
    if (previous && Buffer.compare(previous, value) !== 0)
      await this.#dht.remove(key, previous, this.#secret).catch(() => false);
    return value;
  }

  /** Removes a request this gateway holds (answered, or withdrawn). */
  async releasePending(to: Address, value: Uint8Array): Promise<void> {
    await this.#dht.remove(Directory.pendingKey(to), value, this.#secret).catch(() => false);
  }

  /**
   * Valid pending buddy requests and answers for `user`, each with the gateway that holds it. A
   * request or answer is believed only from its sender's gateway, checked now: the gateway that
   * holds the sender's location, or, when the sender is offline, the one they last logged in through.
   */
  async pendingFor(user: Address): Promise<{ request: PendingEvent; holder: string }[]> {
    const key = Directory.pendingKey(user);
    const records = await this.#read('buddy-request', key, addressKey(user));
    const out: { request: PendingEvent; holder: string }[] = [];
    const perHolder = new Map<string, number>();
    const senders = new Map<string, Promise<string | undefined>>();
    for (const r of records) {
      let event: CanonicalEvent;
      try {
        event = eventFromJson(r.body);
      } catch {
        this.#reject(key, new InvalidRecordError('pending request body is not a buddy request'));
        continue;
      }
      if (
        (event.kind !== 'buddy-request' && event.kind !== 'buddy-response') ||
        addressKey(event.to) !== addressKey(user)
      ) {
        this.#reject(
          key,
          new InvalidRecordError(`pending record for ${addressKey(user)} carries another event`),
        );
        continue;
      }
      const held = (perHolder.get(r.publisher) ?? 0) + 1;
      perHolder.set(r.publisher, held);
      if (held > this.#pendingShare) continue; // one holder's share, as when it was stored
      const sender = addressKey(event.from);
      if (!senders.has(sender)) senders.set(sender, this.gatewayOf(event.from));
      if ((await senders.get(sender)) !== r.publisher) {
        this.#reject(
          key,
          new UnauthorisedRecordError(
            `a ${event.kind} from ${sender} held by ${r.publisher.slice(0, 12)}…, which is not ${sender}'s gateway`,
          ),
        );
        continue;
      }
      out.push({ request: event, holder: r.publisher });
    }
    return out;
  }

  // ------------------------------------------------------------ capabilities

  /**
   * Advertises a translation this gateway performs (`from>to`): its cost, what it preserves, the
   * networks it delivers to and how to reach this gateway. Signed by this gateway, which it is
   * about: a record names no other performer.
   */
  async publishCapability(edge: string, body: CapabilityBody): Promise<void> {
    if (!parseEdge(edge)) throw new InvalidRecordError(`"${edge}" is not a capability edge (from>to)`);
    const checked = CapabilityBodySchema.parse(body);
    await this.#replace('capability', capabilityKey(edge), edge, checked, this.capabilityTtl);
  }

  /** Stops advertising a translation. */
  async withdrawCapability(edge: string): Promise<void> {
    await this.#withdraw(capabilityKey(edge));
  }

  /**
   * Every gateway's verified advertisement of a translation, each about its signer only: a body
   * that is not a capability (one naming another performer, a provider, a gateway) is refused with
   * `ERR_INVALID_RECORD`, as a forged signature is.
   */
  async capabilities(edge: string): Promise<CapabilityRecord[]> {
    const parsed = parseEdge(edge);
    if (!parsed) return [];
    const key = capabilityKey(edge);
    const out: CapabilityRecord[] = [];
    for (const r of await this.#read('capability', key, edge)) {
      const body = CapabilityBodySchema.safeParse(r.body);
      if (!body.success) {
        this.#reject(
          key,
          new InvalidRecordError(
            `capability record from ${r.publisher.slice(0, 12)}… is not a capability of its own: ${body.error.issues[0]?.message}`,
          ),
        );
        continue;
      }
      out.push({
        gateway: r.publisher,
        from: parsed.from,
        to: parsed.to,
        cost: body.data.cost,
        preserves: knownFeatures(body.data.preserves),
        networks: body.data.networks ?? [],
        contact: body.data.contact,
        expiresAt: r.expiresAt,
      });
    }
    return out;
  }

  /** Advertises the formats this gateway translates `from` into (how others find its capabilities). */
  async publishCapabilityIndex(from: string, to: readonly string[]): Promise<void> {
    const subject = `${from}>*`;
    const body = CapabilityIndexBodySchema.parse({ to: [...to].sort() });
    await this.#replace('capability', capabilityIndexKey(from), subject, body, this.capabilityTtl);
  }

  /** Stops advertising what this gateway translates `from` into. */
  async withdrawCapabilityIndex(from: string): Promise<void> {
    await this.#withdraw(capabilityIndexKey(from));
  }

  /** What each gateway says it translates `from` into (verified; each record speaks for its signer). */
  async capabilityIndex(from: string): Promise<CapabilityIndexEntry[]> {
    const key = capabilityIndexKey(from);
    const out: CapabilityIndexEntry[] = [];
    for (const r of await this.#read('capability', key, `${from}>*`)) {
      const body = CapabilityIndexBodySchema.safeParse(r.body);
      if (!body.success) {
        this.#reject(
          key,
          new InvalidRecordError(`capability index from ${r.publisher.slice(0, 12)}… is malformed`),
        );
        continue;
      }
      out.push({ gateway: r.publisher, to: body.data.to.filter((t) => t !== from), expiresAt: r.expiresAt });
    }
    return out;
  }

  // ------------------------------------------------------------ plumbing

  /**
   * A signed record that fits the DHT's value limit (1 KiB on hyperdht): a free-text field (a
   * presence's status text, a request's message) is shortened until it does; anything else that
   * does not fit is refused by the DHT's own size check.
   */
  #encode(kind: RecordKind, subject: string, body: unknown, ttl: number): Uint8Array {
    const issuedAt = this.#now();
    let current = body;
    for (;;) {
      const value = encodeRecord(signRecord(this.#identity, { kind, subject, body: current, issuedAt, ttl }));
      if (value.length <= this.#dht.limits.maxValueBytes) return value;
      const shorter = shortenText(current);
      if (shorter === undefined) return value;
      current = shorter;
    }
  }

  /**
   * Stores this gateway's one record of `kind` under `key` in place of the last one. On a DHT with
   * slots, re-signed in place (one slot per kind): one put, and the old record is gone for every
   * reader at once (on hyperdht a higher sequence number of one record, where a removal would cost
   * a lookup and a tombstone; issue 20). Otherwise the new record is put, then the old one removed.
   */
  #replace(kind: RecordKind, key: string, subject: string, body: unknown, ttl: number): Promise<void> {
    return this.#writing.run(key, () => this.#store(kind, key, subject, body, ttl));
  }

  async #store(kind: RecordKind, key: string, subject: string, body: unknown, ttl: number): Promise<void> {
    const value = this.#encode(kind, subject, body, ttl);
    // Kept as a copy of its own: the encoded record is cut from a shared 8 KiB Buffer pool slab, which a
    // held view would keep alive (issue 20: a slab per published record).
    const kept = new Uint8Array(value);
    // Signed, it says this gateway serves the user, whether the DHT holds it yet or not.
    if (kind === 'location') this.#ownLocations.set(key, kept);
    const slotted = this.#dht.slots === true;
    // A user's location makes them reachable: it goes ahead of reads and long-lived records queued.
    await this.#dht.put(key, value, {
      ttl,
      secret: this.#secret,
      ...(slotted ? { slot: kind } : {}),
      ...(kind === 'location' ? { urgent: true } : {}),
    });
    const previous = this.#mine.get(key) ?? [];
    this.#mine.set(key, [kept]);
    if (slotted) return;
    // Signed in the same millisecond, the new record can be the old one byte for byte: the put just
    // refreshed it, and removing "the old one" would remove it.
    for (const old of previous) {
      if (Buffer.compare(old, value) === 0) continue;
      await this.#dht.remove(key, old, this.#secret).catch(() => false);
    }
  }

  #withdraw(key: string): Promise<void> {
    return this.#writing.run(key, async () => {
      this.#ownLocations.delete(key);
      for (const value of this.#mine.get(key) ?? [])
        await this.#dht.remove(key, value, this.#secret).catch(() => false);
      this.#mine.delete(key);
    });
  }

  /** Requests one holder keeps for one user: the configured bound, within the DHT's per-publisher share. */
  get #pendingShare(): number {
    // Replacing a held value stores the new one before removing the old: one value of headroom.
    return Math.max(1, Math.min(this.maxPendingPerUser, this.#dht.limits.maxValuesPerPublisher - 1));
  }

  #reject(key: string, error: Error): void {
    this.#onRejected?.(key, error.message, isCrossTalkError(error) ? error.code : 'ERR_INVALID_RECORD');
  }

  async #read(kind: RecordKind, key: string, subject: string): Promise<DirectoryRecord[]> {
    const out: DirectoryRecord[] = [];
    for (const value of await this.#dht.get(key)) {
      try {
        out.push(this.#checked(kind, key, subject, value));
      } catch {
        // Rejected (counted and logged by `#checked`): the key's other records still count.
      }
    }
    return out;
  }

  /**
   * One stored value as a record of `kind` about `subject`: signature, dates and publisher
   * checked. A failure is reported (`onRejected`) and thrown.
   */
  #checked(kind: RecordKind, key: string, subject: string, value: Uint8Array): DirectoryRecord {
    try {
      const now = this.#now();
      // A signature is checked once per distinct stored value; expiry is checked on every read.
      const memo = Buffer.from(value).toString('latin1');
      let record = this.#verified.get(memo);
      if (!record || record.kind !== kind || record.subject !== subject) {
        this.#onVerified?.(kind);
        record = verifyRecord(value, {
          kind,
          subject,
          now,
          maxSkew: this.maxClockSkew,
          maxLifetime: this.#dht.limits.maxTtl,
        });
        if (this.#verified.size >= MAX_VERIFIED) this.#verified.clear();
        this.#verified.set(memo, record);
      } else if (record.expiresAt <= now) {
        throw new InvalidRecordError('directory record has expired');
      }
      if (this.#trusted && !this.#trusted(record.publisher))
        throw new UnauthorisedRecordError(`publisher ${record.publisher.slice(0, 12)}… is not trusted`);
      return record;
    } catch (error) {
      const refusal = isCrossTalkError(error) ? error : new InvalidRecordError(String(error));
      this.#reject(key, refusal);
      throw refusal;
    }
  }
}

/** What a location record says, for the router. */
function toLocation(record: DirectoryRecord, body: LocationBody): Location {
  return {
    gateway: record.publisher,
    contact: body.contact,
    issuedAt: record.issuedAt,
    expiresAt: record.expiresAt,
    ...(body.g2g !== undefined ? { g2g: body.g2g } : {}),
  };
}

/** The DHT key of a capability edge `from>to`. */
function capabilityKey(edge: string): string {
  return `cap:${edge}`;
}

/** The DHT secret is derived from the gateway key, so it survives restarts with the key. */
function dhtSecretSeed(identity: GatewayIdentity): string {
  return `${identity.exportPrivateKey()}\u0000crosstalk dht secret`;
}

/** `body` with its free-text field (`text`, `message`, a presence's `text`) halved, or undefined when it has none left. */
function shortenText(body: unknown): unknown | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const record = body as Record<string, unknown>;
  for (const field of ['message', 'text'] as const) {
    const text = record[field];
    if (typeof text !== 'string' || text.length === 0) continue;
    // Halving converges in a few steps whatever the encoding costs per character.
    const keep = text.slice(0, Math.floor(text.length / 2));
    return { ...record, [field]: keep.length + 1 < text.length ? `${keep}…` : '' };
  }
  // A location record carries the presence (and its text) one level down.
  const presence = record.presence === undefined ? undefined : shortenText(record.presence);
  return presence === undefined ? undefined : { ...record, presence };
}
