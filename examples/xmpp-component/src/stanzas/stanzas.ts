import {
  addressToJid,
  createXmlParser,
  DEFAULT_MAX_STANZA_SIZE,
  PROTOCOL,
  type XmlElement,
  type XmlLimits,
  type XmlParser,
  XmppTranslator,
} from '@crosstalk/codec-xmpp';
import { type Address, type CanonicalEvent, FrameTooLargeError } from '@crosstalk/core';
import { type Element, xml } from '@xmpp/component';
import { foreignJid } from '../addresses/foreign-jid.js';

/** Caps on what one stanza from a local user may be: codec-xmpp's (README "Parser limits"). */
export interface StanzaLimits extends XmlLimits {
  /** Largest stanza, in UTF-8 bytes (default codec-xmpp's 256 KiB, prosody's own c2s limit too). */
  maxStanzaSize?: number;
}

/** XEP-0114 §3: stanzas on the component stream are in this namespace (the server's are `jabber:client`). */
const NS_COMPONENT = 'jabber:component:accept';
const NS_CLIENT = 'jabber:client';

/**
 * Stanzas <-> canonical events for the component, on codec-xmpp's public translator: the stanza is
 * read as the client stanza it was (its recipient rewritten from `bob%yahoo@crosstalk.localhost` to
 * codec-xmpp's `bob@yahoo`), and an event is written as codec-xmpp's translator would deliver it to a
 * client (its sender rewritten the other way). So XMPP means here what it means in SOCKS mode:
 * message <-> im, XEP-0085 chat states <-> typing, presence <-> presence, subscribe <-> buddy-request,
 * subscribed/unsubscribed <-> buddy-response (codec-xmpp's README "Stanzas and events").
 */
export class StanzaTranslator {
  readonly #parser: XmlParser;
  readonly #maxSize: number;
  readonly #translator = new XmppTranslator();

  constructor(
    readonly componentDomain: string,
    limits: StanzaLimits = {},
  ) {
    const { maxStanzaSize, ...caps } = limits;
    this.#maxSize = maxStanzaSize ?? DEFAULT_MAX_STANZA_SIZE;
    this.#parser = createXmlParser(caps);
  }

  /**
   * codec-xmpp's tree of an incoming stanza, within its caps: `FrameTooLargeError`, a
   * `StanzaLimitError`, or `MalformedFrameError` when past them.
   */
  parse(stanza: Element): XmlElement {
    const text = stanza.toString();
    const size = Buffer.byteLength(text, 'utf8');
    if (size > this.#maxSize) throw new FrameTooLargeError(PROTOCOL, size, this.#maxSize);
    const tree = this.#parser.parseElement(text);
    // A stanza qualified by the component namespace means what it means in jabber:client.
    tree.attrs = tree.attrs.filter(
      (a) => !(a.name === 'xmlns' && (a.value === NS_COMPONENT || a.value === NS_CLIENT)),
    );
    return tree;
  }

  /** The canonical events a local user's stanza to `buddy` carries (none for what has no meaning). */
  read(tree: XmlElement, buddy: Address): CanonicalEvent[] {
    const rewritten: XmlElement = {
      ...tree,
      attrs: tree.attrs.map((a) => (a.name === 'to' ? { name: 'to', value: addressToJid(buddy) } : a)),
    };
    return this.#translator.read(rewritten, 'client');
  }

  /** The stanzas that show `event` (from a foreign user) to the local user it is for. */
  write(event: CanonicalEvent): Element[] {
    if (event.kind === 'roster') return []; // the XMPP server keeps its users' rosters itself
    const from = foreignJid(event.from, this.componentDomain);
    return this.#translator
      .build(event, 'server')
      .stanzas.map((el) =>
        toLtx({ ...el, attrs: el.attrs.map((a) => (a.name === 'from' ? { name: 'from', value: from } : a)) }),
      );
  }
}

/** codec-xmpp's tree as an @xmpp/xml element (elements, attributes and text; nothing else is built). */
export function toLtx(el: XmlElement): Element {
  const attrs: Record<string, string> = {};
  for (const a of el.attrs) attrs[a.name] = a.value;
  const children: (Element | string)[] = [];
  for (const child of el.children) {
    if (child.type === 'element') children.push(toLtx(child));
    else if (child.type === 'text' || child.type === 'cdata') children.push(child.text);
  }
  return xml(el.name, attrs, ...children);
}
