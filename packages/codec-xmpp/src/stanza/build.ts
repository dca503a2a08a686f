import {
  type Address,
  type CanonicalEvent,
  type Direction,
  type Feature,
  type PresenceStatus,
  type RosterItem,
  UnsupportedEventError,
} from '@crosstalk/core';
import { addressToJid } from '../jid/jid.js';
import { PROTOCOL } from '../protocol.js';
import { element, type XmlElement, type XmlNode } from '../xml/node.js';
import { createXmlParser } from '../xml/parse.js';
import { writeNodes } from '../xml/serialize.js';
import { NS } from './namespaces.js';
import type { StanzaMode } from './read.js';
import { formatDateTime } from './time.js';

/** Canonical events -> stanzas, in the same two modes as `readEvents`. */
export interface BuildContext {
  mode: StanzaMode;
  /** `client`: as the client sends it (no `from`); `server`: as the server delivers it. */
  direction: Direction;
  /** The JID to write for a recipient (the logged-in user's full JID, when known). */
  jidOf(a: Address): string;
  now(): number;
  newId(): string;
}

export interface Built {
  stanzas: XmlElement[];
  /** What the stanzas could not carry (native mode only). */
  lost: Feature[];
}

const STATUS_TO_SHOW: Partial<Record<PresenceStatus, string>> = { away: 'away', busy: 'dnd', idle: 'xa' };

/** Natively a message older than this carries its send time (XEP-0203); fresher ones are "now". */
const DELAY_THRESHOLD_MS = 60_000;

const fragmentParser = createXmlParser();

/** The markup as XML nodes when it is a well-formed fragment we re-serialise byte for byte. */
function fragment(html: string): XmlNode[] | undefined {
  try {
    const wrapper = fragmentParser.parseElement(`<x>${html}</x>`);
    return writeNodes(wrapper.children) === html ? wrapper.children : undefined;
  } catch {
    return undefined;
  }
}

function head(
  name: string,
  event: { from: Address; to?: Address | undefined },
  ctx: BuildContext,
  extra: Record<string, string | undefined>,
): XmlElement {
  return element(name, {
    xmlns: ctx.mode === 'canonical' ? NS.client : undefined,
    from: ctx.mode === 'canonical' || ctx.direction === 'server' ? addressToJid(event.from) : undefined,
    to:
      event.to === undefined
        ? undefined
        : ctx.mode === 'canonical'
          ? addressToJid(event.to)
          : ctx.jidOf(event.to),
    ...extra,
  });
}

export function rosterItemElement(item: RosterItem, forClient: boolean): XmlElement {
  // RFC 6121 §2.1.2.5: a client's roster set carries no subscription state of its own.
  return element(
    'item',
    {
      jid: addressToJid(item.address),
      name: item.name,
      subscription: forClient ? undefined : item.subscription,
      ask: !forClient && item.pending ? 'subscribe' : undefined,
    },
    item.groups.map((g) => element('group', {}, [g])),
  );
}

export function buildStanzas(event: CanonicalEvent, ctx: BuildContext): Built {
  const lost: Feature[] = [];
  const canonical = ctx.mode === 'canonical';
  switch (event.kind) {
    case 'im': {
      const msg = head('message', event, ctx, { type: 'chat', id: event.id });
      msg.children.push(element('body', {}, [event.text]));
      if (event.html !== undefined) {
        const nodes = fragment(event.html);
        if (nodes) {
          // XEP-0071 §7: <html/> wraps an XHTML <body/>.
          const body: XmlElement = { ...element('body', { xmlns: NS.xhtml }), children: nodes };
          msg.children.push(element('html', { xmlns: NS.xhtmlIm }, [body]));
        } else if (canonical) msg.children.push(element('markup', { xmlns: NS.crosstalk }, [event.html]));
        else lost.push('im.html');
      }
      if (canonical || ctx.now() - event.sentAt > DELAY_THRESHOLD_MS) {
        msg.children.push(element('delay', { xmlns: NS.delay, stamp: formatDateTime(event.sentAt) }));
      }
      return { stanzas: [msg], lost };
    }
    case 'typing': {
      const msg = head('message', event, ctx, { type: 'chat' });
      msg.children.push(element(event.state, { xmlns: NS.chatstates }));
      return { stanzas: [msg], lost };
    }
    case 'presence': {
      const away = event.status === 'offline' || event.status === 'invisible';
      const p = head('presence', event, ctx, { type: away ? 'unavailable' : undefined });
      const show = STATUS_TO_SHOW[event.status];
      if (show) p.children.push(element('show', {}, [show]));
      if (event.text !== undefined) p.children.push(element('status', {}, [event.text]));
      if (event.idleSince !== undefined) {
        p.children.push(element('idle', { xmlns: NS.idle, since: formatDateTime(event.idleSince) }));
      }
      if (event.status === 'invisible') {
        if (canonical) p.children.push(element('invisible', { xmlns: NS.crosstalk }));
        else lost.push('presence.invisible');
      }
      return { stanzas: [p], lost };
    }
    case 'roster': {
      if (canonical) {
        const iq = element('iq', {
          xmlns: NS.client,
          from: addressToJid(event.owner),
          type: 'set',
          id: 'roster',
        });
        iq.children.push(
          element(
            'query',
            { xmlns: NS.roster },
            event.items.map((i) => rosterItemElement(i, false)),
          ),
        );
        return { stanzas: [iq], lost };
      }
      if (ctx.direction === 'client') {
        const iq = element('iq', { type: 'set', id: ctx.newId() });
        iq.children.push(
          element(
            'query',
            { xmlns: NS.roster },
            event.items.map((i) => rosterItemElement(i, true)),
          ),
        );
        return { stanzas: [iq], lost };
      }
      // RFC 6121 §2.1.6: one roster push per item, addressed to the user.
      const stanzas = event.items.map((item) => {
        const iq = element('iq', { to: ctx.jidOf(event.owner), type: 'set', id: ctx.newId() });
        iq.children.push(element('query', { xmlns: NS.roster }, [rosterItemElement(item, false)]));
        return iq;
      });
      return { stanzas, lost };
    }
    case 'buddy-request': {
      const p = head('presence', event, ctx, { type: 'subscribe', id: event.id });
      if (event.message !== undefined) p.children.push(element('status', {}, [event.message]));
      if (event.name !== undefined) p.children.push(element('nick', { xmlns: NS.nick }, [event.name]));
      return { stanzas: [p], lost };
    }
    case 'buddy-response': {
      const p = head('presence', event, ctx, {
        type: event.accepted ? 'subscribed' : 'unsubscribed',
        id: event.id,
      });
      if (event.message !== undefined) p.children.push(element('status', {}, [event.message]));
      return { stanzas: [p], lost };
    }
    case 'file-offer': {
      const msg = head('message', event, ctx, { type: canonical ? undefined : 'chat', id: event.id });
      if (!canonical) {
        // A body for clients without XEP-0447, which is most of them.
        msg.children.push(
          element('body', {}, [
            `${addressToJid(event.from)} offers the file ${event.name} (${event.size} bytes)`,
          ]),
        );
      }
      const file = element('file', { xmlns: NS.fileMetadata }, [
        element('name', {}, [event.name]),
        element('size', {}, [String(event.size)]),
        event.mediaType === undefined ? undefined : element('media-type', {}, [event.mediaType]),
        event.sha256 === undefined
          ? undefined
          : element('hash', { xmlns: NS.hashes, algo: 'sha-256' }, [hexToBase64(event.sha256)]),
      ]);
      msg.children.push(element('file-sharing', { xmlns: NS.sfs }, [file, element('sources')]));
      return { stanzas: [msg], lost };
    }
    case 'call-invite': {
      const iq = head('iq', event, ctx, { type: 'set', id: event.id });
      const jingle = element('jingle', {
        xmlns: NS.jingle,
        action: 'session-initiate',
        initiator: canonical || ctx.direction === 'server' ? addressToJid(event.from) : undefined,
        sid: event.id,
      });
      event.media.forEach((m, i) => {
        jingle.children.push(
          element('content', { creator: 'initiator', name: `${m}-${i}` }, [
            element('description', { xmlns: NS.jingleRtp, media: m }),
          ]),
        );
      });
      // XEP-0167 describes media in XML; the offer's SDP itself rides in our own element.
      jingle.children.push(element('sdp', { xmlns: NS.crosstalk }, [event.sdp]));
      iq.children.push(jingle);
      return { stanzas: [iq], lost };
    }
    case 'call-signal': {
      // XEP-0166 §7.2: ringing is session-info, the answer session-accept, every end
      // session-terminate; the exact signal, SDP and reason ride in our own elements.
      const iq = head('iq', event, ctx, { type: 'set', id: event.id });
      const action =
        event.signal === 'ringing'
          ? 'session-info'
          : event.signal === 'answer'
            ? 'session-accept'
            : 'session-terminate';
      const jingle = element('jingle', { xmlns: NS.jingle, action, sid: event.id });
      jingle.children.push(element('signal', { xmlns: NS.crosstalk }, [event.signal]));
      if (event.sdp !== undefined) jingle.children.push(element('sdp', { xmlns: NS.crosstalk }, [event.sdp]));
      if (event.reason !== undefined)
        jingle.children.push(element('reason', { xmlns: NS.crosstalk }, [event.reason]));
      iq.children.push(jingle);
      return { stanzas: [iq], lost };
    }
    default:
      throw new UnsupportedEventError(PROTOCOL, (event as { kind: string }).kind);
  }
}

function hexToBase64(hex: string): string {
  let binary = '';
  for (let i = 0; i < hex.length; i += 2)
    binary += String.fromCharCode(Number.parseInt(hex.slice(i, i + 2), 16));
  return btoa(binary);
}
