import { createHash } from 'node:crypto';
import { type Dht, isCrossTalkError } from '@crosstalk/core';
import {
  type DirectoryRecord,
  encodeRecord,
  type GatewayIdentity,
  InvalidRecordError,
  signRecord,
  UnauthorisedRecordError,
  verifyRecord,
} from '@crosstalk/gateway';
import { z } from 'zod';

/** One registered contact as the directory holds it. */
export interface RegisteredContact {
  /** The contact URI the phone registered (where INVITEs for the AOR go). */
  uri: string;
  /** When the binding lapses, ms since the epoch (the REGISTER's expiry). */
  expiresAt: number;
}

/** Where a SIP exit takes SIP traffic: `host:port` per transport. */
export interface SipExitContact {
  /** The exit's UDP listener. */
  udp?: string;
  /** The exit's TCP listener. */
  tcp?: string;
}

/** A SIP registration found in the directory: an AOR, its contacts and the exit that holds them. */
export interface SipRegistration {
  /** The address of record, `user@domain`. */
  aor: string;
  /** The exit holding the registration (its gateway id, the record's signer). */
  exit: string;
  /** How to reach that exit's SIP listeners. */
  exitContact: SipExitContact;
  /** The contacts, unexpired, newest first. */
  contacts: RegisteredContact[];
  /** When the exit signed the record, ms since the epoch. */
  issuedAt: number;
  /** When the record lapses, ms since the epoch. */
  expiresAt: number;
}

/** Most contacts one record carries (a phone per desk, a softphone, a mobile...). */
export const MAX_CONTACTS_PER_RECORD = 8;

const HostPort = z
  .string()
  .max(300)
  .regex(/^[^\s]+:\d{1,5}$/);
const RegistrationBody = z.object({
  contacts: z
    .array(z.object({ uri: z.string().min(1).max(512), expiresAt: z.number().int().nonnegative() }))
    .max(MAX_CONTACTS_PER_RECORD),
  exit: z.object({ udp: HostPort.optional(), tcp: HostPort.optional() }),
});

/** Options of a `SipRegistrationDirectory`. */
export interface SipRegistrationDirectoryOptions {
  /** The DHT (MemoryDht in one process, HyperDhtStore across hosts). */
  dht: Dht;
  /** The exit's key: it signs what it publishes, and its id is the exit's id. */
  identity: GatewayIdentity;
  /** The clock. */
  now?: () => number;
  /** When set, only registrations signed by these exits are believed (a closed federation). */
  trusted?: (exitId: string) => boolean;
  /** Told about every record read and refused, with the refusal's error code. */
  onRejected?: (key: string, reason: string, code: string) => void;
}

/**
 * SIP registrations in the CrossTalk directory (P2PSIP, as the SCOPE paper does it): under
 * `sip:<aor>` each exit stores one record signed with its key, listing the contacts phones
 * registered with it and its own SIP address, with the REGISTER's expiry as the TTL. Any exit finds
 * a SIP user through the DHT; a restarted exit (same key) finds its own registrations there too.
 */
export class SipRegistrationDirectory {
  readonly #dht: Dht;
  readonly #identity: GatewayIdentity;
  readonly #now: () => number;
  readonly #secret: string;
  readonly #trusted: ((id: string) => boolean) | undefined;
  readonly #onRejected: ((key: string, reason: string, code: string) => void) | undefined;
  /** What this exit last stored per key, so it can remove exactly that. */
  readonly #mine = new Map<string, Uint8Array>();

  constructor(options: SipRegistrationDirectoryOptions) {
    this.#dht = options.dht;
    this.#identity = options.identity;
    this.#now = options.now ?? Date.now;
    this.#trusted = options.trusted;
    this.#onRejected = options.onRejected;
    // Derived from the key, so a restarted exit can still remove what it stored before.
    this.#secret = createHash('sha256')
      .update(`${options.identity.exportPrivateKey()}\u0000crosstalk sip registration secret`)
      .digest('hex');
  }

  /** The DHT key of an AOR's registrations. */
  static key(aor: string): string {
    return `sip:${aor}`;
  }

  /**
   * Publishes this exit's contacts for `aor` (replacing its previous record), with a TTL running to
   * the latest contact's expiry (capped by the DHT's longest TTL). Contacts that would not fit the
   * DHT's value size are left out, oldest first. With no live contact, withdraws instead.
   */
  async publish(aor: string, contacts: readonly RegisteredContact[], exit: SipExitContact): Promise<void> {
    const now = this.#now();
    const live = contacts
      .filter((c) => c.expiresAt > now)
      .sort((a, b) => b.expiresAt - a.expiresAt)
      .slice(0, MAX_CONTACTS_PER_RECORD);
    if (live.length === 0) return this.withdraw(aor);
    const key = SipRegistrationDirectory.key(aor);
    let value: Uint8Array | undefined;
    let ttl = 0;
    for (let n = live.length; n > 0; n--) {
      const kept = live.slice(0, n);
      ttl = Math.min(Math.max(...kept.map((c) => c.expiresAt)) - now, this.#dht.limits.maxTtl);
      const body = { contacts: kept, exit };
      const encoded = encodeRecord(
        signRecord(this.#identity, { kind: 'sip-registration', subject: aor, body, issuedAt: now, ttl }),
      );
      if (encoded.length <= this.#dht.limits.maxValueBytes) {
        value = encoded;
        break;
      }
    }
    if (!value) throw new RangeError(`a registration for ${aor} does not fit the DHT's value limit`);
    await this.#dht.put(key, value, { ttl, secret: this.#secret });
    await this.#removeOld(key, value);
    this.#mine.set(key, value);
  }

  /** Removes this exit's record for `aor` (an unREGISTER, or every binding expired). */
  async withdraw(aor: string): Promise<void> {
    const key = SipRegistrationDirectory.key(aor);
    await this.#removeOld(key, undefined);
    this.#mine.delete(key);
  }

  /** Removes every value this exit stored under `key` but `keep`: the one it remembers, and after a restart, what it finds signed by itself. */
  async #removeOld(key: string, keep: Uint8Array | undefined): Promise<void> {
    const previous = this.#mine.get(key);
    const stale: Uint8Array[] = previous ? [previous] : [];
    if (!previous) {
      for (const value of await this.#dht.get(key)) {
        const record = this.#parse(key, value, false);
        if (record?.publisher === this.#identity.id) stale.push(value);
      }
    }
    for (const value of stale) {
      if (keep && Buffer.compare(Buffer.from(value), Buffer.from(keep)) === 0) continue;
      await this.#dht.remove(key, value, this.#secret).catch(() => false);
    }
  }

  /**
   * Every exit's registration for `aor`, verified (signature, subject, expiry, trust), with only the
   * unexpired contacts, newest record first.
   */
  async lookup(aor: string): Promise<SipRegistration[]> {
    const key = SipRegistrationDirectory.key(aor);
    const now = this.#now();
    const out: SipRegistration[] = [];
    for (const value of await this.#dht.get(key)) {
      const record = this.#parse(key, value, true);
      if (!record || record.subject !== aor) continue;
      const body = RegistrationBody.safeParse(record.body);
      if (!body.success) {
        this.#reject(key, new InvalidRecordError(`sip registration body: ${body.error.issues[0]?.message}`));
        continue;
      }
      const contacts = body.data.contacts
        .filter((c) => c.expiresAt > now && c.expiresAt <= record.expiresAt)
        .sort((a, b) => b.expiresAt - a.expiresAt);
      if (contacts.length === 0) continue;
      const exitContact: SipExitContact = {};
      if (body.data.exit.udp) exitContact.udp = body.data.exit.udp;
      if (body.data.exit.tcp) exitContact.tcp = body.data.exit.tcp;
      out.push({
        aor,
        exit: record.publisher,
        exitContact,
        contacts,
        issuedAt: record.issuedAt,
        expiresAt: record.expiresAt,
      });
    }
    return out.sort((a, b) => b.issuedAt - a.issuedAt || (a.exit < b.exit ? -1 : 1));
  }

  #parse(key: string, value: Uint8Array, report: boolean): DirectoryRecord | undefined {
    const aor = key.slice('sip:'.length);
    try {
      const record = verifyRecord(value, {
        kind: 'sip-registration',
        subject: aor,
        now: this.#now(),
        maxSkew: 30_000,
        maxLifetime: this.#dht.limits.maxTtl,
      });
      if (this.#trusted && !this.#trusted(record.publisher)) {
        if (report)
          this.#reject(
            key,
            new UnauthorisedRecordError(`exit ${record.publisher.slice(0, 12)}… is not trusted`),
          );
        return undefined;
      }
      return record;
    } catch (error) {
      if (report) this.#reject(key, isCrossTalkError(error) ? error : new InvalidRecordError(String(error)));
      return undefined;
    }
  }

  #reject(key: string, error: Error): void {
    this.#onRejected?.(key, error.message, isCrossTalkError(error) ? error.code : 'ERR_INVALID_RECORD');
  }
}
