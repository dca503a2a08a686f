import type { DigestAuthenticator } from '../digest/digest.js';
import { parseCSeq } from '../grammar/cseq.js';
import { parseNameAddr } from '../grammar/name-addr.js';
import { getParam } from '../grammar/params.js';
import { parseSipUri } from '../grammar/uri.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { responseFor } from '../message/responses.js';
import type { SipDestination } from '../transaction/context.js';
import type { Binding, BindingTable } from './binding-table.js';

/** Expiry rules of the registrar, seconds (RFC 3261 §10.2.1.1, §10.3 step 7). */
export interface ExpiryRules {
  /** Used when the REGISTER names none (default 3600). */
  defaultExpires: number;
  /** Shorter non-zero requests get 423 Interval Too Brief (default 60). */
  minExpires: number;
  /** Longer requests are cut to this (default 3600). */
  maxExpires: number;
}

/** The default expiry rules. */
export const DEFAULT_EXPIRY: ExpiryRules = Object.freeze({
  defaultExpires: 3600,
  minExpires: 60,
  maxExpires: 3600,
});

/** What the registrar needs from the exit. */
export interface RegistrarOptions {
  /** The bindings. */
  table: BindingTable;
  /** Checks credentials; without one, every REGISTER is accepted (an open registrar, for tests only). */
  authenticator?: DigestAuthenticator;
  /** The AOR (`user@domain`) a URI stands for when it is in a domain this exit serves; undefined otherwise. */
  aorOf(uri: string): string | undefined;
  /** Expiry rules. */
  expiry?: Partial<ExpiryRules>;
  /** Publishes an AOR's bindings (to the directory); awaited before the 200, up to `publishWait`. */
  publish(aor: string, bindings: readonly Binding[]): Promise<void>;
  /** Longest wait for `publish` before answering anyway, ms (default 2 s); the publish goes on. */
  publishWait?: number;
  /** The clock. */
  now?: () => number;
}

/**
 * The registrar (RFC 3261 §10.3): digest authentication, the AOR from To, the user's own AOR only,
 * Contact `*` with Expires 0, per-contact expiry with 423 below the minimum, Call-ID/CSeq ordering
 * of refreshes, and the current bindings in the 200.
 */
export class Registrar {
  readonly #o: RegistrarOptions;
  readonly #expiry: ExpiryRules;
  readonly #now: () => number;

  constructor(options: RegistrarOptions) {
    this.#o = options;
    this.#expiry = { ...DEFAULT_EXPIRY, ...options.expiry };
    this.#now = options.now ?? Date.now;
  }

  /** The expiry rules in force. */
  get expiry(): ExpiryRules {
    return this.#expiry;
  }

  /** Answers a REGISTER that came from `source`. */
  async handle(request: SipRequest, source: SipDestination): Promise<SipResponse> {
    const h = request.headers;
    // §10.3 step 1: the Request-URI names the domain.
    let requestUri: ReturnType<typeof parseSipUri>;
    try {
      requestUri = parseSipUri(request.uri);
    } catch {
      return responseFor(request, 416);
    }
    if (
      requestUri.user !== undefined ||
      this.#o.aorOf(`sip:x@${requestUri.host}${requestUri.port ? `:${requestUri.port}` : ''}`) === undefined
    )
      return responseFor(request, 404, { reason: 'Domain Not Served' });
    let aor: string | undefined;
    try {
      aor = this.#o.aorOf(parseNameAddr(h.get('to') ?? '').uri);
    } catch {
      return responseFor(request, 400, { reason: 'Bad To' });
    }
    if (aor === undefined) return responseFor(request, 404, { reason: 'Not Found' });
    // §10.3 steps 5-6: authenticate, and only for the user's own AOR.
    const auth = this.#o.authenticator;
    if (auth) {
      const result = auth.verify('REGISTER', request.uri, h.getAll('authorization'));
      if (!result.ok) {
        if (result.reason === 'malformed') return responseFor(request, 400, { reason: 'Bad Authorization' });
        return responseFor(request, 401, {
          headers: [['WWW-Authenticate', auth.challenge(result.reason === 'stale')]],
        });
      }
      if (result.user !== aor.slice(0, aor.lastIndexOf('@')))
        return responseFor(request, 403, { reason: 'Not Your AOR' });
    }
    const table = this.#o.table;
    const now = this.#now();
    const callId = h.get('call-id') ?? '';
    const cseq = parseCSeq(h.get('cseq') ?? '').seq;
    const contacts = h.list('contact');
    const expiresHeader = h.get('expires');
    if (expiresHeader !== undefined && !/^\d{1,10}$/.test(expiresHeader))
      return responseFor(request, 400, { reason: 'Bad Expires' });
    const current = table.get(aor);
    if (contacts.length > 0) {
      let next: Binding[] = [...current];
      if (contacts.some((c) => c === '*')) {
        // §10.3 step 6: `*` only alone and with Expires: 0.
        if (contacts.length !== 1 || expiresHeader !== '0')
          return responseFor(request, 400, { reason: 'Bad Wildcard' });
        if (current.some((b) => b.callId === callId && b.cseq >= cseq))
          return responseFor(request, 500, { reason: 'Out Of Order' });
        next = [];
      } else {
        for (const text of contacts) {
          let uri: string;
          let expires: number;
          try {
            const contact = parseNameAddr(text);
            parseSipUri(contact.uri);
            uri = contact.uri;
            const param = getParam(contact.params, 'expires');
            const raw = param ?? expiresHeader;
            if (raw !== undefined && !/^\d{1,10}$/.test(raw))
              return responseFor(request, 400, { reason: 'Bad Expires' });
            expires = raw === undefined ? this.#expiry.defaultExpires : Number(raw);
          } catch {
            return responseFor(request, 400, { reason: 'Bad Contact' });
          }
          if (expires > 0 && expires < this.#expiry.minExpires)
            return responseFor(request, 423, { headers: [['Min-Expires', String(this.#expiry.minExpires)]] });
          expires = Math.min(expires, this.#expiry.maxExpires);
          const existing = next.find((b) => b.uri === uri);
          // §10.3 step 7: a refresh from the same Call-ID must carry a higher CSeq.
          if (existing && existing.callId === callId && existing.cseq >= cseq)
            return responseFor(request, 500, { reason: 'Out Of Order' });
          next = next.filter((b) => b.uri !== uri);
          if (expires > 0)
            next.push({ uri, expiresAt: now + expires * 1000, callId, cseq, source, updatedAt: now });
        }
        if (next.length > table.maxBindingsPerAor)
          return responseFor(request, 403, { reason: 'Too Many Contacts' });
        if (current.length === 0 && next.length > 0 && !table.hasRoom) return responseFor(request, 503);
      }
      table.set(aor, next);
      await this.#publish(aor, next);
    }
    const live = table.get(aor);
    return responseFor(request, 200, {
      headers: [
        ...live.map((b): [string, string] => [
          'Contact',
          `<${b.uri}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`,
        ]),
        ['Date', new Date(now).toUTCString()],
      ],
    });
  }

  /** Publishes, answering after at most `publishWait` (a slow DHT does not hold the phone up). */
  async #publish(aor: string, bindings: readonly Binding[]): Promise<void> {
    const publishing = this.#o.publish(aor, bindings).catch(() => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#o.publishWait ?? 2000);
      timer.unref?.();
    });
    await Promise.race([publishing, waited]);
    clearTimeout(timer);
  }
}
