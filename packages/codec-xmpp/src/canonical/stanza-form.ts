import {
  type CanonicalEvent,
  decodeUtf8,
  eventFromJson,
  FrameTooLargeError,
  formatAddress,
  MalformedFrameError,
} from '@crosstalk/core';
import { addressToJid } from '../jid/jid.js';
import { DEFAULT_MAX_STANZA_SIZE, PROTOCOL } from '../protocol.js';
import { buildStanzas } from '../stanza/build.js';
import { readEvents } from '../stanza/read.js';
import { createXmlParser, type XmlParserOptions } from '../xml/parse.js';
import { writeElement } from '../xml/serialize.js';
import { encodeUtf8 } from '../xml/utf8.js';

/**
 * The canonical stanza form: every canonical event as one self-contained XMPP stanza, the default
 * G2G wire format (docs/DESIGN.md "Codec contract"; XMPP stanzas, as in the CrossTalk paper). Standard extensions carry
 * what they can (XEP-0071 XHTML-IM, XEP-0085 chat states, XEP-0203 delay, XEP-0319 idle, XEP-0172
 * nick, XEP-0446/0447 file metadata, XEP-0166 Jingle); `urn:crosstalk:0` elements carry the rest
 * (invisible presence, markup that is not well-formed XML, the SDP of a call offer), so that
 * `decode(encode(e))` equals `e` for every valid event. `decode` is a trust boundary: size-capped,
 * fully parsed, and validated with core's schemas.
 */
export interface StanzaForm {
  readonly name: string;
  encode(event: CanonicalEvent): Uint8Array;
  decode(bytes: Uint8Array): CanonicalEvent;
}

export interface StanzaFormOptions extends XmlParserOptions {
  /** Largest stanza `decode` accepts (default 256 KiB). */
  maxSize?: number;
}

const noClock = () => {
  throw new MalformedFrameError(PROTOCOL, 'the canonical form carries every timestamp');
};

/** Canonical events as XMPP stanzas: the form gateways exchange events in (the CLI wires it in). */
export function stanzaForm(options: StanzaFormOptions = {}): StanzaForm {
  const parser = createXmlParser(options);
  const maxSize = options.maxSize ?? DEFAULT_MAX_STANZA_SIZE;
  return {
    name: 'xmpp-stanza',
    encode(event) {
      const built = buildStanzas(event, {
        mode: 'canonical',
        direction: 'server',
        jidOf: addressToJid,
        now: noClock,
        newId: () => 'canonical',
      });
      return encodeUtf8(writeElement(built.stanzas[0]!));
    },
    decode(bytes) {
      if (bytes.length > maxSize) throw new FrameTooLargeError(PROTOCOL, bytes.length, maxSize);
      const el = parser.parseElement(decodeUtf8(bytes, PROTOCOL));
      const events = readEvents(
        el,
        { default: '' },
        {
          mode: 'canonical',
          direction: 'server',
          self: undefined,
          now: noClock,
          newId: () => '',
        },
      );
      if (events.length !== 1) {
        throw new MalformedFrameError(PROTOCOL, `<${el.name}> is not a canonical event stanza`);
      }
      return eventFromJson(jsonOf(events[0]));
    },
  };
}

/**
 * The JSON form of a freshly read event, which may still lack parts (a missing sender): addresses
 * become `user@network` strings and holes stay holes, for core's schema to judge.
 */
function jsonOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonOf);
  if (typeof value !== 'object' || value === null) return value;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 2 && typeof o.user === 'string' && typeof o.network === 'string') {
    return formatAddress({ user: o.user, network: o.network });
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = jsonOf(o[k]);
  return out;
}

/** The canonical stanza form with default limits: `stanza.encode(event)`, `stanza.decode(bytes)`. */
export const stanza: StanzaForm = stanzaForm();
