import {
  type Address,
  addressEquals,
  type CanonicalEvent,
  type Direction,
  defaultIsForeign,
  type Translator,
  type TranslatorOptions,
} from '@crosstalk/core';
import type { XmppFrame } from '../frames/frame.js';
import { addressToJid, jidToAddress } from '../jid/jid.js';
import { type Built, buildStanzas } from '../stanza/build.js';
import {
  CLIENT_SCOPE,
  findChild,
  NS,
  type NsScope,
  namespaceOf,
  scopeIn,
  streamScope,
} from '../stanza/namespaces.js';
import { type ReadContext, readEvents } from '../stanza/read.js';
import { getAttr, localName, textOf, type XmlElement } from '../xml/node.js';

let counter = 0;

/**
 * Frames <-> canonical events for one XMPP connection. It learns from the frames it sees: the
 * server's domain (stream headers), and who is logged in (the JID the server returns for resource
 * binding, RFC 6120 §7.6.1, or failing that the JID the server addresses the client by), so that
 * a client stanza without `from` gets its sender and an event for the user gets the full JID.
 * Works standalone (the CLI) as well as inside a proxy session.
 */
export class XmppTranslator implements Translator<XmppFrame> {
  #self: Address | undefined;
  #selfJid: string | undefined;
  #domain: string | undefined;
  readonly #explicitForeign: ((a: Address) => boolean) | undefined;
  readonly #now: () => number;
  readonly #newId: () => string;
  #scope: Record<Direction, NsScope> = { client: CLIENT_SCOPE, server: CLIENT_SCOPE };

  constructor(options: TranslatorOptions = {}) {
    this.#self = options.self;
    if (options.self) this.#domain = options.self.network;
    this.#explicitForeign = options.isForeign;
    this.#now = options.now ?? Date.now;
    this.#newId = options.newId ?? (() => `ct${Date.now().toString(36)}${(++counter).toString(36)}`);
  }

  get self(): Address | undefined {
    return this.#self;
  }

  /** The logged-in user's full JID, once bound. */
  get selfJid(): string | undefined {
    return this.#selfJid;
  }

  /** The server's domain (the user's own network), once seen. */
  get domain(): string | undefined {
    return this.#domain;
  }

  /** Default: core's `defaultIsForeign` with the server's domain as the own network. */
  isForeign(a: Address): boolean {
    if (this.#explicitForeign) return this.#explicitForeign(a);
    return defaultIsForeign(this.#domain ? [this.#domain] : [])(a);
  }

  /** Sets the logged-in user from a JID the server confirmed. */
  bind(jid: string): Address | undefined {
    const address = jidToAddress(jid);
    if (!address) return undefined;
    this.#self = address;
    this.#selfJid = jid.includes('/') ? jid : undefined;
    this.#domain = address.network;
    return address;
  }

  /** The namespace scope stanzas inherit in one direction (from that side's stream header). */
  scope(direction: Direction): NsScope {
    return this.#scope[direction];
  }

  /** Updates what the translator knows from one frame, without producing events. */
  observe(frame: XmppFrame, direction: Direction): void {
    if (frame.type === 'stream-open') {
      const el = frame.element;
      this.#scope[direction] = streamScope(el);
      // RFC 6120 §4.7.1/§4.7.2: the client names the server in `to`, the server itself in `from`.
      const domain = getAttr(el, direction === 'client' ? 'to' : 'from');
      if (domain && !this.#self) this.#domain = domain;
      return;
    }
    if (frame.type !== 'element' || direction !== 'server') return;
    const el = frame.element;
    const scope = scopeIn(el, this.#scope.server);
    if (namespaceOf(el, scope) !== NS.client) return;
    if (localName(el.name) === 'iq' && getAttr(el, 'type') === 'result') {
      const bind = findChild(el, scope, 'bind', NS.bind);
      const jid = bind ? findChild(bind.el, bind.scope, 'jid', NS.bind) : undefined;
      if (jid) {
        this.bind(textOf(jid.el).trim());
        return;
      }
    }
    // Without a bind (a capture that starts mid-stream), the server's `to` names the client.
    if (!this.#self) {
      const to = getAttr(el, 'to');
      if (to && jidToAddress(to)) this.bind(to);
    }
  }

  /** Canonical events one element carries (no state update). */
  read(el: XmlElement, direction: Direction): CanonicalEvent[] {
    return readEvents(el, this.#scope[direction], this.#readContext(direction));
  }

  toEvents(frame: XmppFrame, direction: Direction): CanonicalEvent[] {
    this.observe(frame, direction);
    return frame.type === 'element' ? this.read(frame.element, direction) : [];
  }

  /** Stanzas carrying `event`, plus what they could not carry. */
  build(event: CanonicalEvent, direction: Direction): Built {
    return buildStanzas(event, {
      mode: 'native',
      direction,
      jidOf: (a) => this.jidOf(a),
      now: this.#now,
      newId: this.#newId,
    });
  }

  fromEvent(event: CanonicalEvent, direction: Direction): XmppFrame[] {
    return this.build(event, direction).stanzas.map((element) => ({ type: 'element', element }));
  }

  /** The JID to address `a` by: the bound full JID for the logged-in user, else the bare JID. */
  jidOf(a: Address): string {
    if (this.#selfJid && this.#self && addressEquals(a, this.#self)) return this.#selfJid;
    return addressToJid(a);
  }

  #readContext(direction: Direction): ReadContext {
    return { mode: 'native', direction, self: this.#self, now: this.#now, newId: this.#newId };
  }
}
