import { addressKey, formatAddress, type G2gContact } from '@crosstalk/core';
import type { GatewayEvent } from '../gateway.js';

/** One refusal or error the status page lists: what happened, when, and on which connection. */
export interface StatusIncident {
  /** When it happened, ms since the epoch. */
  at: number;
  /**
   * `refused`: a SOCKS request, G2G connection or event refused, or a connection closed on bad
   * input; `undeliverable`: an outbound event that reached nobody; `login-failed`: the user's own
   * server refused the login.
   */
  kind: 'refused' | 'undeliverable' | 'login-failed';
  /** The error code and message (`ERR_SOCKS_REFUSED: ...`). */
  reason: string;
  /** The proxied connection's id, when it happened on one. */
  connection?: string;
  /** The peer's address, when known. */
  source?: string;
  /** What a refused SOCKS request asked for (`host:port`), or whom an undeliverable event was for. */
  target?: string;
  /** The SOCKS4 USERID of a refused request, as the client sent it. */
  userId?: string;
}

/** A listener's address. */
export interface StatusEndpoint {
  /** The address it is bound to. */
  host: string;
  /** Its TCP port. */
  port: number;
}

/** A verified user with a live connection. */
export interface StatusUser {
  /** `user@network`. */
  address: string;
  /** The protocol the user logged in with. */
  protocol: string;
  /** When the first of the user's connections was verified, ms since the epoch. */
  since: number;
}

/** Events carried from users of one protocol to users of another (or the same) protocol. */
export interface StatusTranslation {
  /** The sender's protocol. */
  from: string;
  /** The protocol the event was delivered in. */
  to: string;
  /** Events per second, averaged over the window (or over the uptime, while that is shorter). */
  perSecond: number;
  /** Events since the gateway started. */
  total: number;
}

/** The figures the status page shows, also served as JSON (`/status.json`). */
export interface GatewayStatus {
  /** This gateway's id (its ed25519 public key, hex). */
  id: string;
  /** When the gateway started, ms since the epoch. */
  startedAt: number;
  /** When these figures were taken, ms since the epoch. */
  now: number;
  /** The SOCKS4 listener clients point at. */
  socks: StatusEndpoint;
  /** The G2G listener's TCP address, when the transport has one. */
  g2g: StatusEndpoint | undefined;
  /** What other gateways dial (the transport's contact). */
  contact: G2gContact;
  /** Verified users with a live connection, by the protocol they logged in with. */
  usersByProtocol: Record<string, number>;
  /** Those users, the earliest login first. */
  users: StatusUser[];
  /** The window the rates are averaged over, seconds. */
  windowSeconds: number;
  /** Events carried from a user of one protocol to a user of another, by pair, busiest first. */
  translations: StatusTranslation[];
  /** The latest refusals and errors, newest first. */
  recent: StatusIncident[];
}

/** Where the gateway is reachable, read when the status is taken (the listeners start after the board). */
export interface StatusAddresses {
  /** The gateway's id. */
  id: string;
  /** Its SOCKS4 listener. */
  socks: StatusEndpoint;
  /** Its G2G listener, when the transport has a TCP one. */
  g2g: StatusEndpoint | undefined;
  /** What other gateways dial. */
  contact: G2gContact;
}

/** Options of `StatusBoard`. */
export interface StatusBoardOptions {
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Seconds the translation rates are averaged over. Default 60. */
  windowSeconds?: number;
  /** Refusals and errors kept for the page. Default 50. */
  keep?: number;
}

/** Per-second counts over a sliding window, in a ring of `window` slots (no timer: stale slots are skipped). */
class RateWindow {
  readonly #counts: number[];
  readonly #seconds: number[];
  total = 0;

  constructor(window: number) {
    this.#counts = new Array(window).fill(0);
    this.#seconds = new Array(window).fill(-1);
  }

  add(second: number): void {
    const slot = second % this.#counts.length;
    if (this.#seconds[slot] !== second) {
      this.#seconds[slot] = second;
      this.#counts[slot] = 0;
    }
    this.#counts[slot]! += 1;
    this.total += 1;
  }

  /** Events in the window ending at `second` (included). */
  inWindow(second: number): number {
    let sum = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      const at = this.#seconds[i]!;
      if (at > second - this.#counts.length && at <= second) sum += this.#counts[i]!;
    }
    return sum;
  }
}

/**
 * What the gateway's status page shows, kept from its events (`Gateway.on`): users online by
 * protocol, translated events per second by protocol pair over a sliding window, and a bounded
 * list of the latest refusals and errors. Memory is bounded: one entry per user online, one
 * window per protocol pair, `keep` incidents.
 */
export class StatusBoard {
  readonly #now: () => number;
  readonly #window: number;
  readonly #keep: number;
  readonly #startedAt: number;
  readonly #users = new Map<string, StatusUser>();
  readonly #pairs = new Map<string, { from: string; to: string; rate: RateWindow }>();
  readonly #recent: StatusIncident[] = [];

  constructor(options: StatusBoardOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#window = Math.max(1, Math.floor(options.windowSeconds ?? 60));
    this.#keep = Math.max(1, Math.floor(options.keep ?? 50));
    this.#startedAt = this.#now();
  }

  /** Takes one gateway event into account. */
  observe(event: GatewayEvent): void {
    switch (event.type) {
      case 'verified': {
        const key = addressKey(event.user);
        if (!this.#users.has(key))
          this.#users.set(key, {
            address: formatAddress(event.user),
            protocol: event.protocol,
            since: this.#now(),
          });
        return;
      }
      case 'offline':
        this.#users.delete(addressKey(event.user));
        return;
      case 'translated': {
        const key = `${event.from}>${event.to}`;
        let pair = this.#pairs.get(key);
        if (!pair) {
          pair = { from: event.from, to: event.to, rate: new RateWindow(this.#window) };
          this.#pairs.set(key, pair);
        }
        pair.rate.add(Math.floor(this.#now() / 1000));
        return;
      }
      case 'refused':
        this.#incident({
          kind: 'refused',
          reason: event.reason,
          ...(event.connection ? { connection: event.connection } : {}),
          ...(event.source ? { source: event.source } : {}),
          ...(event.target ? { target: event.target } : {}),
          ...(event.userId ? { userId: event.userId } : {}),
        });
        return;
      case 'undeliverable': {
        const to = 'to' in event.event ? event.event.to : undefined;
        this.#incident({
          kind: 'undeliverable',
          reason: `${event.reason} (${event.event.kind})`,
          ...(to ? { target: formatAddress(to) } : {}),
        });
        return;
      }
      case 'session':
        if (event.event.type === 'login-failed')
          this.#incident({
            kind: 'login-failed',
            reason: `${event.event.code}: ${event.event.message}`,
            connection: event.connection,
          });
        return;
      default:
        return;
    }
  }

  #incident(incident: Omit<StatusIncident, 'at'>): void {
    this.#recent.unshift({ at: this.#now(), ...incident });
    if (this.#recent.length > this.#keep) this.#recent.length = this.#keep;
  }

  /** The figures as of now. */
  status(addresses: StatusAddresses): GatewayStatus {
    const now = this.#now();
    const second = Math.floor(now / 1000);
    // Until the gateway has run a whole window, average over the time it has run.
    const span = Math.min(this.#window, Math.max(1, second - Math.floor(this.#startedAt / 1000) + 1));
    const users = [...this.#users.values()].sort((a, b) => a.since - b.since);
    const usersByProtocol: Record<string, number> = {};
    for (const u of users) usersByProtocol[u.protocol] = (usersByProtocol[u.protocol] ?? 0) + 1;
    const translations = [...this.#pairs.values()]
      .map(({ from, to, rate }) => ({ from, to, perSecond: rate.inWindow(second) / span, total: rate.total }))
      .sort((a, b) => b.perSecond - a.perSecond || b.total - a.total);
    return {
      id: addresses.id,
      startedAt: this.#startedAt,
      now,
      socks: addresses.socks,
      g2g: addresses.g2g,
      contact: addresses.contact,
      usersByProtocol,
      users: users.map((u) => ({ ...u })),
      windowSeconds: this.#window,
      translations,
      recent: this.#recent.map((r) => ({ ...r })),
    };
  }
}
