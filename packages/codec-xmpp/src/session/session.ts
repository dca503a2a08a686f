import {
  type Address,
  addressEquals,
  addressKey,
  type CanonicalEvent,
  type CrossTalkError,
  type Direction,
  emptyOutput,
  type Feature,
  type FeatureSet,
  type FileOfferEvent,
  type FilePush,
  isCrossTalkError,
  joinOutput,
  type ProxySession,
  type RosterItem,
  type SessionContext,
  type SessionOutput,
  type SessionState,
  SessionStateError,
  StreamClosedError,
  subtractFeatures,
  toProtocolError,
  UnsupportedEventError,
} from '@crosstalk/core';
import { isStanzaLimitError } from '../errors/errors.js';
import { StanzaFramer, type StanzaFramerOptions } from '../framer/stanza-framer.js';
import type { XmppFrame, XmppFrameCodec } from '../frames/frame.js';
import { addressToJid, jidToAddress } from '../jid/jid.js';
import { PROTOCOL } from '../protocol.js';
import { rosterItemElement } from '../stanza/build.js';
import { childrenIn, findChild, NS, type NsScope, namespaceOf, scopeIn } from '../stanza/namespaces.js';
import { XmppTranslator } from '../translator/translator.js';
import { childElements, element, getAttr, localName, textOf, type XmlElement } from '../xml/node.js';
import { writeElement } from '../xml/serialize.js';
import { encodeUtf8 } from '../xml/utf8.js';
import { BoundedIds } from './bounded-ids.js';
import { IbbPushes } from './ibb-push.js';
import { mergeRoster } from './roster-merge.js';
import { saslUsername } from './sasl-identity.js';

/** Options of the XMPP proxy session. */
export interface XmppSessionOptions extends StanzaFramerOptions {
  frames: XmppFrameCodec;
  /** What this protocol carries natively; deliveries are reduced to it and losses reported. */
  features: FeatureSet;
}

type Side = Direction;

interface ServerAction {
  replace?: Uint8Array;
  after?: Uint8Array[];
}

/**
 * The proxy session for one XMPP client connection (docs/DESIGN.md "Codec contract", proxy session).
 *
 * - Before the login is confirmed it is a pure relay that watches: every frame passes with its
 *   original bytes. It reports `identified` from the SASL exchange (or the bound JID) and
 *   `verified` when, after SASL `<success/>`, the server answers resource binding with a JID
 *   (RFC 6120 §6.4.6, §7.6.1); a SASL `<failure/>` is `login-failed`.
 * - Once verified, client stanzas addressed to a foreign user (`ctx.isForeign`) are withheld and
 *   reported as `outbound` (messages, chat states, directed and subscription presence, call
 *   offers); iq requests to foreign users are answered locally so the client does not wait;
 *   roster edits of foreign items are answered locally with a result and a roster push. The
 *   user's own presence broadcast passes and is reported as `self`. The roster result gets the
 *   foreign buddies merged in (`roster`). Everything else passes byte-identical.
 * - `deliver` injects events as the server would send them; stanza ids it injects are tracked so
 *   the client's answers to them never reach the server.
 * - STARTTLS (RFC 6120 §5) or stream compression (XEP-0138): after the server's `<proceed/>` or
 *   `<compressed/>` the session reports `opaque` and relays raw bytes both ways.
 */
export class XmppSession implements ProxySession {
  readonly protocol = PROTOCOL;
  readonly #ctx: SessionContext;
  readonly #frames: XmppFrameCodec;
  readonly #features: FeatureSet;
  readonly #translator: XmppTranslator;
  readonly #framers: Record<Side, StanzaFramer>;
  #state: SessionState = 'connecting';
  #user: Address | undefined;
  #identified: Address | undefined;
  #clientDomain: string | undefined;
  #saslMechanism: string | undefined;
  #saslSucceeded = false;
  readonly #bindIds = new BoundedIds(16);
  readonly #rosterGets = new BoundedIds(16);
  /** Ids of iq requests we injected towards the client: its answers are ours, not the server's. */
  readonly #injected = new BoundedIds(1024);
  /** Files pushed to the client as XEP-0047 in-band bytestreams, from the users who offered them. */
  readonly #ibb: IbbPushes;

  /**
   * XEP-0047 in-band bytestreams into the client stream: the engine pushes an offered file's bytes
   * (the offer itself was delivered as XEP-0447 metadata with a body), the client acknowledges
   * each block. Only once verified, like every injection.
   */
  readonly files: FilePush = {
    open: (offer: FileOfferEvent, blockSize: number) =>
      this.#ibb.open(offer, blockSize, this.#injectingTo('push a file')),
    block: (offerId: string, data: Uint8Array) =>
      this.#ibb.block(offerId, data, this.#injectingTo('push a file')),
    close: (offerId: string, error?: CrossTalkError) =>
      this.#state === 'closed'
        ? emptyOutput()
        : this.#ibb.close(offerId, this.#injectingTo('push a file'), error),
  };

  constructor(ctx: SessionContext, options: XmppSessionOptions) {
    this.#ibb = new IbbPushes(ctx.newId);
    this.#ctx = ctx;
    this.#frames = options.frames;
    this.#features = options.features;
    this.#translator = new XmppTranslator({ isForeign: ctx.isForeign, now: ctx.now, newId: ctx.newId });
    this.#framers = { client: new StanzaFramer(options), server: new StanzaFramer(options) };
  }

  get state(): SessionState {
    return this.#state;
  }

  get user(): Address | undefined {
    return this.#user ?? this.#identified;
  }

  fromClient(chunk: Uint8Array): SessionOutput {
    return this.#pump('client', chunk);
  }

  fromServer(chunk: Uint8Array): SessionOutput {
    return this.#pump('server', chunk);
  }

  deliver(event: CanonicalEvent): SessionOutput {
    if (this.#state !== 'verified' || !this.#user) {
      throw new SessionStateError(`cannot deliver a ${event.kind} to an XMPP session that is ${this.#state}`);
    }
    const out = emptyOutput();
    const reduced = subtractFeatures(event, this.#features);
    if (!reduced.event) throw new UnsupportedEventError(PROTOCOL, event.kind);
    const built = this.#translator.build(reduced.event, 'server');
    const lost: Feature[] = [...reduced.lost, ...built.lost];
    // RFC 6121 §3.1.6, §3.2.3: with a contact's answer the server also pushes the changed item.
    if (event.kind === 'buddy-response') this.#subscriptionPush(event.from, event.accepted, out);
    for (const stanza of built.stanzas) {
      if (localName(stanza.name) === 'iq') {
        const id = getAttr(stanza, 'id');
        if (id !== undefined) this.#injected.add(id);
      }
      out.toClient.push(encodeUtf8(writeElement(stanza)));
    }
    if (lost.length > 0) out.events.push({ type: 'feature-loss', event, lost });
    return out;
  }

  affinity(event: CanonicalEvent): number {
    if (this.#state !== 'verified' || !this.#user) return 0;
    const target = event.kind === 'roster' ? event.owner : event.to;
    return target !== undefined && addressEquals(target, this.#user) ? 1 : 0;
  }

  close(reason: string): SessionOutput {
    const out = emptyOutput();
    if (this.#state === 'closed') return out;
    this.#state = 'closed';
    this.#ibb.clear();
    out.events.push({ type: 'closed', reason });
    return out;
  }

  /** The client's full JID, for stanzas injected towards it; throws unless the session is verified. */
  #injectingTo(what: string): string {
    const self = this.#translator.selfJid;
    if (this.#state !== 'verified' || !this.#user || !self)
      throw new SessionStateError(`cannot ${what} to an XMPP session that is ${this.#state}`);
    return self;
  }

  // ------------------------------------------------------------------ pumping

  #pump(side: Side, chunk: Uint8Array): SessionOutput {
    if (this.#state === 'closed') throw new StreamClosedError(PROTOCOL, 'the session is closed');
    const out = emptyOutput();
    const forward = side === 'client' ? out.toServer : out.toClient;
    if (this.#state === 'opaque') {
      forward.push(chunk.slice());
      return out;
    }
    const framer = this.#framers[side];
    try {
      framer.pushUntil(chunk, (frame) => this.#onFrame(side, frame, out));
    } catch (error) {
      this.#state = 'closed';
      throw error;
    }
    if (framer.error) {
      this.#state = 'closed';
      out.events.push({ type: 'closed', reason: framer.error.message, error: framer.error });
    } else if ((this.#state as SessionState) === 'opaque') {
      // Whatever followed <proceed/> is TLS; whatever the other side had started is relayed too.
      const rest = framer.takeRest();
      if (rest.length > 0) forward.push(rest);
      const other: Side = side === 'client' ? 'server' : 'client';
      const held = this.#framers[other].takeRest();
      if (held.length > 0) (other === 'client' ? out.toServer : out.toClient).push(held);
    } else {
      // Keepalives pass at once instead of waiting for the next stanza (RFC 6120 §4.6.1).
      for (const ws of framer.flush()) forward.push(ws);
    }
    return joinOutput(out);
  }

  /** One whole frame from `side`. Returns true when the stream has just become opaque. */
  #onFrame(side: Side, raw: Uint8Array, out: SessionOutput): boolean {
    const forward = side === 'client' ? out.toServer : out.toClient;
    let frame: XmppFrame;
    try {
      frame = this.#frames.decode(raw, side);
    } catch (error) {
      // Past a parser cap (README, "Parser limits"): nothing is relayed and the session ends with
      // the typed error (the framer takes it as its own, see `#pump`); so does anything untyped.
      if (!isCrossTalkError(error) || isStanzaLimitError(error)) throw error;
      // Framed but not well-formed XML: relayed as it is; the far end answers it (RFC 6120 §4.9.3.13).
      forward.push(raw);
      out.events.push({ type: 'untranslated', direction: side, error: toProtocolError(error, PROTOCOL) });
      return false;
    }
    if (side === 'client') return this.#onElement(side, frame, raw, out);
    // A server stanza the session cannot read goes to the client as it came: it is usually about a
    // contact, and a contact's bad data must not close the connection of every user who has that contact.
    const mark = { toServer: out.toServer.length, toClient: out.toClient.length, events: out.events.length };
    try {
      return this.#onElement(side, frame, raw, out);
    } catch (error) {
      out.toServer.length = mark.toServer;
      out.toClient.length = mark.toClient;
      out.events.length = mark.events;
      forward.push(raw);
      out.events.push({ type: 'untranslated', direction: side, error: toProtocolError(error, PROTOCOL) });
      return false;
    }
  }

  #onElement(side: Side, frame: XmppFrame, raw: Uint8Array, out: SessionOutput): boolean {
    const forward = side === 'client' ? out.toServer : out.toClient;
    this.#translator.observe(frame, side);
    if (frame.type === 'stream-open' && side === 'client') this.#clientDomain = getAttr(frame.element, 'to');
    if (frame.type !== 'element') {
      forward.push(raw);
      return false;
    }
    const el = frame.element;
    const scope = scopeIn(el, this.#translator.scope(side));
    const ns = namespaceOf(el, scope);
    const local = localName(el.name);
    if (side === 'client') {
      if (this.#fromClient(el, scope, ns, local, out)) return false;
      forward.push(raw);
      return false;
    }
    const result = this.#fromServer(el, scope, ns, local, out);
    forward.push(result?.replace ?? raw);
    if (result?.after) for (const b of result.after) forward.push(b);
    return this.#state === 'opaque';
  }

  // ------------------------------------------------------------------ client -> server

  /** Returns true when the stanza is withheld from the server. */
  #fromClient(el: XmlElement, scope: NsScope, ns: string, local: string, out: SessionOutput): boolean {
    if (ns === NS.sasl) {
      if (local === 'auth') this.#saslMechanism = getAttr(el, 'mechanism');
      if (local === 'auth' || local === 'response') this.#identify(textOf(el), out);
      return false;
    }
    if (ns !== NS.client) return false;
    const type = getAttr(el, 'type');
    const id = getAttr(el, 'id');
    if (local === 'iq') {
      if (type === 'set' && findChild(el, scope, 'bind', NS.bind) && id !== undefined) this.#bindIds.add(id);
      if (type === 'get' && findChild(el, scope, 'query', NS.roster) && id !== undefined)
        this.#rosterGets.add(id);
      if ((type === 'result' || type === 'error') && id !== undefined) {
        const self = this.#translator.selfJid;
        const answered = self ? this.#ibb.answer(id, type, el, scope, self) : undefined;
        if (answered) {
          merge(out, answered);
          return true;
        }
        if (this.#injected.delete(id)) return true;
      }
    }
    if (this.#state !== 'verified') return false; // the identity gate: watch only
    const toAttr = getAttr(el, 'to');
    const target = toAttr === undefined ? undefined : jidToAddress(toAttr);
    const foreign = target !== undefined && this.#ctx.isForeign(target);
    switch (local) {
      case 'message':
        if (!foreign) return false;
        for (const event of this.#translator.read(el, 'client')) out.events.push({ type: 'outbound', event });
        return true;
      case 'presence':
        if (!foreign) {
          // The user's own broadcast (RFC 6121 §4.2, §4.5): the server gets it; foreign buddies too.
          if (toAttr === undefined && (type === undefined || type === 'unavailable')) {
            for (const event of this.#translator.read(el, 'client')) out.events.push({ type: 'self', event });
          }
          return false;
        }
        // subscribe / subscribed / unsubscribed / directed presence become events; unsubscribe
        // and probe have no canonical form and simply stay away from the server.
        for (const event of this.#translator.read(el, 'client')) {
          out.events.push({ type: 'outbound', event });
          // What the user's server would push for these (RFC 6121 §3.1.2, §3.1.5, §3.2.1).
          if (event.kind === 'buddy-request') this.#subscriptionPush(event.to, 'asked', out);
          if (event.kind === 'buddy-response') this.#subscriptionPush(event.to, event.accepted, out);
        }
        return true;
      case 'iq':
        // A roster set goes to the user's own account: no `to`, or the bare JID (RFC 6121 §2.1.5).
        if (type === 'set' && (toAttr === undefined || (target && addressEquals(target, this.#user!)))) {
          const query = findChild(el, scope, 'query', NS.roster);
          if (query) return this.#foreignRosterSet(el, query.el, query.scope, out);
        }
        if (!foreign) return false;
        if (type === 'set') {
          // XEP-0047: the client about a bytestream (ours to answer, never a foreign user's).
          const ibb = this.#ibb.request(el, scope, this.#translator.selfJid ?? '');
          if (ibb) {
            merge(out, ibb);
            return true;
          }
        }
        if (type === 'get' || type === 'set') this.#answerForeignIq(el, toAttr!, out);
        return true; // results and errors to a foreign JID answer something we injected
      default:
        return false;
    }
  }

  /** The client edits its roster (RFC 6121 §2.3, §2.5): foreign items are ours to answer. */
  #foreignRosterSet(iq: XmlElement, query: XmlElement, scope: NsScope, out: SessionOutput): boolean {
    const items = childrenIn(query, scope, NS.roster).filter((c) => localName(c.el.name) === 'item');
    if (items.length === 0) return false;
    const parsed = items.map((c) => ({ c, address: jidToAddress(getAttr(c.el, 'jid')) }));
    if (!parsed.every((p) => p.address !== undefined && this.#ctx.isForeign(p.address))) return false;
    const owner = this.#user!;
    // By address (the first item of each), so a set of many items costs one look-up each.
    const known = new Map<string, RosterItem>();
    for (const k of this.#ctx.foreignRoster(owner)) {
      const key = addressKey(k.address);
      if (!known.has(key)) known.set(key, k);
    }
    // RFC 6121 §2.3.2: the server answers the set with a result and pushes the change.
    const to = this.#translator.selfJid;
    out.toClient.push(encodeUtf8(writeElement(element('iq', { type: 'result', id: getAttr(iq, 'id'), to }))));
    const changed: RosterItem[] = [];
    for (const { c, address } of parsed) {
      const remove = getAttr(c.el, 'subscription') === 'remove';
      const current = known.get(addressKey(address!));
      const name = getAttr(c.el, 'name');
      const item: RosterItem = {
        address: address!,
        ...(name ? { name } : {}),
        groups: childElements(c.el)
          .filter((g) => localName(g.name) === 'group')
          .map((g) => textOf(g)),
        subscription: remove ? 'none' : (current?.subscription ?? 'none'),
        pending: remove ? false : (current?.pending ?? false),
      };
      changed.push(item);
      this.#push(
        remove
          ? element('item', { jid: addressToJid(address!), subscription: 'remove' })
          : rosterItemElement(item, false),
        out,
      );
    }
    out.events.push({ type: 'outbound', event: { kind: 'roster', owner, items: changed } });
    return true;
  }

  /** A roster push to the client (RFC 6121 §2.1.6); its id is ours, so the client's answer stays here. */
  #push(item: XmlElement, out: SessionOutput): void {
    const id = this.#ctx.newId();
    this.#injected.add(id);
    const push = element('iq', { type: 'set', id, to: this.#translator.selfJid }, [
      element('query', { xmlns: NS.roster }, [item]),
    ]);
    out.toClient.push(encodeUtf8(writeElement(push)));
  }

  /**
   * A subscription with the foreign `buddy` changed: push the item as the user's server would for
   * a local contact (RFC 6121 §3.1.2 `ask='subscribe'` after a request, §3.1.5/§3.1.6 after an
   * approval, §3.2 after a refusal). The states are the gateway's: an approval either way makes
   * the foreign buddy mutual (`both`), a refusal `none`. Name and groups come from the stored item;
   * a refusal for a buddy not on the list pushes nothing.
   */
  #subscriptionPush(buddy: Address, change: boolean | 'asked', out: SessionOutput): void {
    const known = this.#ctx.foreignRoster(this.#user!).find((k) => addressEquals(k.address, buddy));
    if (change === false && !known) return;
    const base: RosterItem = known ?? { address: buddy, groups: [], subscription: 'none', pending: false };
    const item: RosterItem =
      change === 'asked'
        ? { ...base, pending: true }
        : { ...base, subscription: change ? 'both' : 'none', pending: false };
    this.#push(rosterItemElement(item, false), out);
  }

  /** An iq get/set to a foreign user: a call offer is acknowledged, anything else refused. */
  #answerForeignIq(iq: XmlElement, toAttr: string, out: SessionOutput): void {
    const events = this.#translator.read(iq, 'client');
    const to = this.#translator.selfJid;
    const id = getAttr(iq, 'id');
    if (events.length > 0) {
      for (const event of events) out.events.push({ type: 'outbound', event });
      // XEP-0166 §6.3: the responder acknowledges session-initiate with an empty result.
      out.toClient.push(encodeUtf8(writeElement(element('iq', { type: 'result', id, from: toAttr, to }))));
      return;
    }
    // RFC 6120 §8.3.3.19: nobody here can answer this request.
    const error = element('error', { type: 'cancel' }, [
      element('service-unavailable', { xmlns: NS.stanzas }),
    ]);
    out.toClient.push(
      encodeUtf8(writeElement(element('iq', { type: 'error', id, from: toAttr, to }, [error]))),
    );
  }

  #identify(payload: string, out: SessionOutput): void {
    if (this.#identified) return;
    const user = saslUsername(this.#saslMechanism, payload);
    if (!user) return;
    const address = user.includes('@')
      ? jidToAddress(user)
      : this.#clientDomain
        ? jidToAddress(`${user}@${this.#clientDomain}`)
        : undefined;
    if (!address) return;
    this.#identified = address;
    if (this.#state === 'connecting') this.#state = 'identified';
    out.events.push({ type: 'identified', address });
  }

  // ------------------------------------------------------------------ server -> client

  /** Returns replacement bytes for a changed stanza (roster merge), or stanzas to inject after it. */
  #fromServer(
    el: XmlElement,
    scope: NsScope,
    ns: string,
    local: string,
    out: SessionOutput,
  ): ServerAction | undefined {
    if (ns === NS.tls && local === 'proceed') {
      this.#opaque('STARTTLS: the stream is TLS from here on (see the codec-xmpp README)', out);
      return undefined;
    }
    if (ns === NS.compress && local === 'compressed') {
      this.#opaque('XEP-0138 stream compression: the stream is compressed from here on', out);
      return undefined;
    }
    if (ns === NS.sasl) {
      if (local === 'success') this.#saslSucceeded = true;
      if (local === 'failure') {
        const condition = childElements(el).find((c) => localName(c.name) !== 'text');
        const text = childElements(el).find((c) => localName(c.name) === 'text');
        out.events.push({
          type: 'login-failed',
          ...(this.#identified ? { address: this.#identified } : {}),
          code: condition ? localName(condition.name) : 'failure',
          ...(text ? { message: textOf(text) } : {}),
        });
      }
      return undefined;
    }
    if (ns !== NS.client) return undefined;
    const id = getAttr(el, 'id');
    const type = getAttr(el, 'type');
    if (local === 'iq' && id !== undefined && this.#bindIds.delete(id)) {
      this.#bound(el, scope, type, out);
      return undefined;
    }
    if (this.#state !== 'verified') return undefined;
    if (local === 'iq' && type === 'result' && id !== undefined && this.#rosterGets.delete(id)) {
      return this.#rosterResult(el, out);
    }
    for (const event of this.#translator.read(el, 'server')) out.events.push({ type: 'inbound', event });
    return undefined;
  }

  #bound(iq: XmlElement, scope: NsScope, type: string | undefined, out: SessionOutput): void {
    if (type === 'error') {
      const error = findChild(iq, scope, 'error', NS.client);
      const condition = error
        ? childElements(error.el).find((c) => namespaceOf(c, scopeIn(c, error.scope)) === NS.stanzas)
        : undefined;
      out.events.push({
        type: 'login-failed',
        ...(this.#identified ? { address: this.#identified } : {}),
        code: condition ? localName(condition.name) : 'bind-failed',
        message: 'resource binding failed',
      });
      return;
    }
    const jid = this.#translator.selfJid;
    const address = this.#translator.self;
    // RFC 6120 §7: binding follows a successful SASL negotiation; before it, nothing is confirmed.
    if (type !== 'result' || !jid || !address || !this.#saslSucceeded) return;
    if (!this.#identified || !addressEquals(this.#identified, address)) {
      this.#identified = address;
      out.events.push({ type: 'identified', address });
    }
    this.#user = address;
    this.#state = 'verified';
    out.events.push({ type: 'verified', address });
  }

  /** The answer to the client's roster get: merge the foreign buddies in (RFC 6121 §2.1.4). */
  #rosterResult(iq: XmlElement, out: SessionOutput): ServerAction | undefined {
    const owner = this.#user!;
    const foreign = this.#ctx.foreignRoster(owner);
    const merge = mergeRoster(iq, this.#translator.scope('server'), foreign);
    if (!merge) {
      // RFC 6121 §2.6.3: "no change since your version": push the foreign items instead.
      const to = this.#translator.selfJid;
      const after = foreign.map((item) => {
        const id = this.#ctx.newId();
        this.#injected.add(id);
        const query = element('query', { xmlns: NS.roster }, [rosterItemElement(item, false)]);
        return encodeUtf8(writeElement(element('iq', { type: 'set', id, to }, [query])));
      });
      out.events.push({ type: 'roster', owner, items: [], merged: [...foreign] });
      return { after };
    }
    out.events.push({ type: 'roster', owner, items: merge.items, merged: merge.merged });
    return merge.merged.length === 0 ? undefined : { replace: encodeUtf8(writeElement(iq)) };
  }

  #opaque(reason: string, out: SessionOutput): void {
    this.#state = 'opaque';
    out.events.push({ type: 'opaque', reason });
  }
}

/** Appends `more` to `out`. */
function merge(out: SessionOutput, more: SessionOutput): void {
  out.toServer.push(...more.toServer);
  out.toClient.push(...more.toClient);
  out.events.push(...more.events);
}
