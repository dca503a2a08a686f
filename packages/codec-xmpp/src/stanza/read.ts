import {
  type Address,
  addressEquals,
  CALL_SIGNALS,
  type CallSignal,
  type CanonicalEvent,
  type Direction,
  LIMITS,
  type PresenceStatus,
  type RosterItem,
  type Subscription,
  TYPING_STATES,
  type TypingState,
} from '@crosstalk/core';
import { jidToAddress } from '../jid/jid.js';
import { getAttr, localName, textOf, type XmlElement } from '../xml/node.js';
import { writeNodes } from '../xml/serialize.js';
import { childrenIn, findChild, NS, type NsScope, namespaceOf, scopeIn } from './namespaces.js';
import { parseDateTime } from './time.js';

/**
 * Stanzas -> canonical events. One reader serves two modes:
 * - `native`: what a real client or server wrote. Missing pieces are filled from the connection
 *   (the logged-in user, the clock, a fresh id) and what has no canonical meaning yields nothing.
 * - `canonical`: the G2G stanza form, read exactly (no defaults; the result is validated after).
 */
export type StanzaMode = 'native' | 'canonical';

export interface ReadContext {
  mode: StanzaMode;
  /** Who wrote the stanza. */
  direction: Direction;
  /** The logged-in user: sender of client stanzas and recipient of server stanzas that name nobody. */
  self: Address | undefined;
  now(): number;
  newId(): string;
}

const SHOW_TO_STATUS: Readonly<Record<string, PresenceStatus>> = {
  away: 'away',
  chat: 'online', // RFC 6121 §4.7.2.1 "free for chat": no canonical counterpart, closest is online
  dnd: 'busy',
  xa: 'idle', // extended away
};

const SUBSCRIPTIONS = new Set<string>(['none', 'to', 'from', 'both']);
const TYPING = new Set<string>(TYPING_STATES);

function sender(el: XmlElement, ctx: ReadContext): Address | undefined {
  const from = getAttr(el, 'from');
  if (from !== undefined) return jidToAddress(from);
  return ctx.mode === 'native' && ctx.direction === 'client' ? ctx.self : undefined;
}

function recipient(el: XmlElement, ctx: ReadContext): Address | undefined {
  const to = getAttr(el, 'to');
  if (to !== undefined) return jidToAddress(to);
  return ctx.mode === 'native' && ctx.direction === 'server' ? ctx.self : undefined;
}

function childText(parent: XmlElement, scope: NsScope, local: string, ns: string): string | undefined {
  const child = findChild(parent, scope, local, ns);
  return child ? textOf(child.el) : undefined;
}

/** Canonical events carried by one stanza (`scope` is the scope around it, e.g. the stream's). */
export function readEvents(el: XmlElement, outer: NsScope, ctx: ReadContext): CanonicalEvent[] {
  const scope = scopeIn(el, outer);
  const ns = namespaceOf(el, scope);
  if (ns !== NS.client) return [];
  let events: CanonicalEvent[];
  switch (localName(el.name)) {
    case 'message':
      events = readMessage(el, scope, ctx);
      break;
    case 'presence':
      events = readPresence(el, scope, ctx);
      break;
    case 'iq':
      events = readIq(el, scope, ctx);
      break;
    default:
      return [];
  }
  // Natively, what core's schemas would refuse (a 200 KB body, a 1,000-character id) is not an
  // event: dropped here, cheaply, instead of failing whoever validates it later. The canonical
  // form is validated in full by its caller.
  return ctx.mode === 'native' && !events.every(withinLimits) ? events.filter(withinLimits) : events;
}

const short = (s: string | undefined, max: number) => s === undefined || s.length <= max;

function withinLimits(e: CanonicalEvent): boolean {
  switch (e.kind) {
    case 'im':
      return short(e.id, LIMITS.id) && short(e.text, LIMITS.text) && short(e.html, LIMITS.text);
    case 'presence':
      return short(e.text, LIMITS.text);
    case 'roster':
      return (
        e.items.length <= LIMITS.rosterItems &&
        e.items.every(
          (i) =>
            short(i.name, LIMITS.name) &&
            i.groups.length <= LIMITS.groups &&
            i.groups.every((g) => short(g, LIMITS.name)),
        )
      );
    case 'buddy-request':
      return short(e.id, LIMITS.id) && short(e.name, LIMITS.name) && short(e.message, LIMITS.text);
    case 'buddy-response':
      return short(e.id, LIMITS.id) && short(e.message, LIMITS.text);
    case 'file-offer':
      return short(e.id, LIMITS.id) && short(e.name, LIMITS.name) && short(e.mediaType, LIMITS.name);
    case 'call-invite':
      return short(e.id, LIMITS.id) && short(e.sdp, LIMITS.sdp);
    case 'call-signal':
      return short(e.id, LIMITS.id) && short(e.sdp, LIMITS.sdp) && short(e.reason, LIMITS.name);
    default:
      return true;
  }
}

function readMessage(el: XmlElement, scope: NsScope, ctx: ReadContext): CanonicalEvent[] {
  const type = getAttr(el, 'type') ?? 'normal';
  // RFC 6121 §5.2.2: groupchat (XEP-0045 rooms), headline and error have no canonical counterpart.
  if (type !== 'chat' && type !== 'normal') return [];
  const from = sender(el, ctx);
  const to = recipient(el, ctx);
  if (ctx.mode === 'native' && (!from || !to)) return [];
  // An empty id is no id (core requires at least one character).
  const id = getAttr(el, 'id') || (ctx.mode === 'native' ? ctx.newId() : getAttr(el, 'id'));

  const sharing = findChild(el, scope, 'file-sharing', NS.sfs);
  if (sharing) {
    const offer = readFileOffer(sharing.el, sharing.scope, ctx);
    return offer ? [{ kind: 'file-offer', id: id!, from: from!, to: to!, ...offer }] : [];
  }

  const body = findChild(el, scope, 'body', NS.client);
  if (body) {
    const delay = findChild(el, scope, 'delay', NS.delay);
    let stamp = parseDateTime(delay ? getAttr(delay.el, 'stamp') : undefined);
    if (stamp === undefined && ctx.mode === 'native') {
      // XEP-0091 (legacy, still sent by older servers): CCYYMMDDThh:mm:ss in UTC.
      const legacy = findChild(el, scope, 'x', NS.legacyDelay);
      const m = legacy
        ? /^(\d{4})(\d{2})(\d{2})T(\d{2}:\d{2}:\d{2})$/.exec(getAttr(legacy.el, 'stamp') ?? '')
        : null;
      if (m) stamp = parseDateTime(`${m[1]}-${m[2]}-${m[3]}T${m[4]}Z`);
    }
    const sentAt = stamp ?? (ctx.mode === 'native' ? ctx.now() : undefined);
    const html = readHtml(el, scope, ctx);
    const event = {
      kind: 'im',
      id: id!,
      from: from!,
      to: to!,
      text: textOf(body.el),
      sentAt: sentAt!,
    } as const;
    return [html === undefined ? event : { ...event, html }];
  }

  // XEP-0085 §5: a standalone chat state notification.
  for (const c of childrenIn(el, scope, NS.chatstates)) {
    const state = localName(c.el.name);
    if (TYPING.has(state)) return [{ kind: 'typing', from: from!, to: to!, state: state as TypingState }];
  }
  return [];
}

/** XEP-0071: the inside of the XHTML body, as written; canonical form may carry non-XML markup. */
function readHtml(el: XmlElement, scope: NsScope, ctx: ReadContext): string | undefined {
  const html = findChild(el, scope, 'html', NS.xhtmlIm);
  if (html) {
    const body = findChild(html.el, html.scope, 'body', NS.xhtml);
    if (body) return writeNodes(body.el.children);
  }
  if (ctx.mode === 'canonical') {
    const markup = findChild(el, scope, 'markup', NS.crosstalk);
    if (markup) return textOf(markup.el);
  }
  return undefined;
}

function readFileOffer(
  sharing: XmlElement,
  scope: NsScope,
  ctx: ReadContext,
): { name: string; size: number; mediaType?: string; sha256?: string } | undefined {
  const file = findChild(sharing, scope, 'file', NS.fileMetadata);
  if (!file) return undefined;
  const name = childText(file.el, file.scope, 'name', NS.fileMetadata);
  const sizeText = childText(file.el, file.scope, 'size', NS.fileMetadata);
  if (name === undefined || sizeText === undefined || !/^[0-9]{1,16}$/.test(sizeText)) {
    return ctx.mode === 'native' ? undefined : { name: name as string, size: Number.NaN };
  }
  const offer: { name: string; size: number; mediaType?: string; sha256?: string } = {
    name,
    size: Number(sizeText),
  };
  const mediaType = childText(file.el, file.scope, 'media-type', NS.fileMetadata);
  if (mediaType !== undefined) offer.mediaType = mediaType;
  // XEP-0300 hashes are base64; the canonical model keeps SHA-256 as lower-case hex.
  for (const h of childrenIn(file.el, file.scope, NS.hashes)) {
    if (localName(h.el.name) !== 'hash' || getAttr(h.el, 'algo') !== 'sha-256') continue;
    const bytes = base64ToBytes(textOf(h.el).trim());
    if (bytes?.length === 32)
      offer.sha256 = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    else if (ctx.mode === 'canonical') offer.sha256 = '';
  }
  return offer;
}

function base64ToBytes(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  try {
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function readPresence(el: XmlElement, scope: NsScope, ctx: ReadContext): CanonicalEvent[] {
  const type = getAttr(el, 'type');
  const from = sender(el, ctx);
  const id = getAttr(el, 'id') || (ctx.mode === 'native' ? undefined : getAttr(el, 'id'));
  const status = childText(el, scope, 'status', NS.client);
  switch (type) {
    case 'subscribe': {
      // RFC 6121 §3.1; XEP-0172 §4.1: the requester's nickname travels with the request.
      const to = recipient(el, ctx);
      if (ctx.mode === 'native' && (!from || !to)) return [];
      const nick = childText(el, scope, 'nick', NS.nick);
      return [
        {
          kind: 'buddy-request',
          ...(id !== undefined ? { id } : {}),
          from: from!,
          to: to!,
          ...(nick !== undefined ? { name: nick } : {}),
          ...(status !== undefined ? { message: status } : {}),
        },
      ];
    }
    case 'subscribed':
    case 'unsubscribed': {
      // RFC 6121 §3.1.5 (approval) and §3.2 (refusal or cancellation of a subscription).
      const to = recipient(el, ctx);
      if (ctx.mode === 'native' && (!from || !to)) return [];
      return [
        {
          kind: 'buddy-response',
          ...(id !== undefined ? { id } : {}),
          from: from!,
          to: to!,
          accepted: type === 'subscribed',
          ...(status !== undefined ? { message: status } : {}),
        },
      ];
    }
    case undefined:
    case 'unavailable':
      break;
    default:
      return []; // unsubscribe (no canonical event), probe, error
  }
  // XEP-0045 room presence is not a buddy's presence.
  if (findChild(el, scope, 'x', NS.muc) || findChild(el, scope, 'x', NS.mucUser)) return [];
  if (ctx.mode === 'native' && !from) return [];
  let presence: PresenceStatus;
  if (type === 'unavailable') {
    presence =
      ctx.mode === 'canonical' && findChild(el, scope, 'invisible', NS.crosstalk) ? 'invisible' : 'offline';
  } else {
    const show = childText(el, scope, 'show', NS.client);
    presence = show === undefined ? 'online' : (SHOW_TO_STATUS[show.trim()] ?? 'online');
  }
  const idleSince = readIdle(el, scope, ctx);
  const toAttr = getAttr(el, 'to');
  let to: Address | undefined;
  if (toAttr !== undefined) {
    to = jidToAddress(toAttr);
    // Every presence a server delivers names its recipient (the client); only a presence naming
    // someone else is directed.
    if (
      ctx.mode === 'native' &&
      ctx.direction === 'server' &&
      (!to || !ctx.self || addressEquals(to, ctx.self))
    ) {
      to = undefined;
    }
  }
  return [
    {
      kind: 'presence',
      from: from!,
      ...(to !== undefined ? { to } : {}),
      status: presence,
      ...(status !== undefined ? { text: status } : {}),
      ...(idleSince !== undefined ? { idleSince } : {}),
    },
  ];
}

/** XEP-0319 `<idle since/>`; natively also XEP-0012 seconds of inactivity in presence. */
function readIdle(el: XmlElement, scope: NsScope, ctx: ReadContext): number | undefined {
  const idle = findChild(el, scope, 'idle', NS.idle);
  if (idle) {
    const since = getAttr(idle.el, 'since');
    const ms = parseDateTime(since);
    return ms === undefined && ctx.mode === 'canonical' ? Number.NaN : ms;
  }
  if (ctx.mode === 'native') {
    const last = findChild(el, scope, 'query', NS.last);
    const seconds = last ? getAttr(last.el, 'seconds') : undefined;
    if (seconds !== undefined && /^[0-9]{1,10}$/.test(seconds))
      return Math.max(0, ctx.now() - Number(seconds) * 1000);
  }
  return undefined;
}

function readIq(el: XmlElement, scope: NsScope, ctx: ReadContext): CanonicalEvent[] {
  const type = getAttr(el, 'type');
  const query = findChild(el, scope, 'query', NS.roster);
  if (query) {
    // RFC 6121 §2.1.4 result, §2.1.6 push (set from the server), §2.1.5 set (from the client).
    if (type !== 'result' && type !== 'set') return [];
    let owner: Address | undefined;
    if (ctx.mode === 'canonical') owner = jidToAddress(getAttr(el, 'from'));
    else if (ctx.direction === 'client') owner = ctx.self;
    else owner = ctx.self ?? jidToAddress(getAttr(el, 'to'));
    if (!owner && ctx.mode === 'native') return [];
    return [{ kind: 'roster', owner: owner!, items: readRosterItems(query.el, query.scope, ctx) }];
  }
  const jingle = findChild(el, scope, 'jingle', NS.jingle);
  if (jingle && type === 'set' && getAttr(jingle.el, 'action') === 'session-initiate') {
    const sdp = childText(jingle.el, jingle.scope, 'sdp', NS.crosstalk);
    // A native Jingle offer describes media in XML (XEP-0167), not as SDP: not translated.
    if (sdp === undefined && ctx.mode === 'native') return [];
    const from = sender(el, ctx);
    const to = recipient(el, ctx);
    if (ctx.mode === 'native' && (!from || !to)) return [];
    const media: ('audio' | 'video')[] = [];
    for (const content of childrenIn(jingle.el, jingle.scope, NS.jingle)) {
      if (localName(content.el.name) !== 'content') continue;
      const description = findChild(content.el, content.scope, 'description', NS.jingleRtp);
      const m = description ? getAttr(description.el, 'media') : undefined;
      if (m === 'audio' || m === 'video') media.push(m);
    }
    const sid = getAttr(jingle.el, 'sid');
    return [{ kind: 'call-invite', id: sid!, from: from!, to: to!, sdp: sdp!, media }];
  }
  // A call's progress (XEP-0166 session-info, -accept, -terminate) with our signal element; a
  // native Jingle session without one is not translated.
  const signal =
    jingle && type === 'set' ? childText(jingle.el, jingle.scope, 'signal', NS.crosstalk) : undefined;
  if (jingle && signal !== undefined) {
    // Natively only what the model has; in canonical mode core's schema judges (a typed refusal).
    const known =
      (CALL_SIGNALS as readonly string[]).includes(signal) && getAttr(jingle.el, 'sid') !== undefined;
    if (ctx.mode === 'native' && !known) return [];
    const from = sender(el, ctx);
    const to = recipient(el, ctx);
    if (ctx.mode === 'native' && (!from || !to)) return [];
    const sdp = childText(jingle.el, jingle.scope, 'sdp', NS.crosstalk);
    const reason = childText(jingle.el, jingle.scope, 'reason', NS.crosstalk);
    return [
      {
        kind: 'call-signal',
        id: getAttr(jingle.el, 'sid')!,
        from: from!,
        to: to!,
        signal: signal as CallSignal,
        ...(sdp === undefined ? {} : { sdp }),
        ...(reason === undefined ? {} : { reason }),
      },
    ];
  }
  return [];
}

/** RFC 6121 §2.1.2 items; `remove` items (roster pushes of deletions) have no canonical form. */
export function readRosterItems(
  query: XmlElement,
  scope: NsScope,
  ctx: Pick<ReadContext, 'mode'>,
): RosterItem[] {
  const items: RosterItem[] = [];
  for (const c of childrenIn(query, scope, NS.roster)) {
    if (localName(c.el.name) !== 'item') continue;
    const address = jidToAddress(getAttr(c.el, 'jid'));
    const subscription = getAttr(c.el, 'subscription') ?? 'none';
    if (subscription === 'remove') continue;
    if (!address && ctx.mode === 'native') continue;
    const name = getAttr(c.el, 'name');
    const groups: string[] = [];
    for (const g of childrenIn(c.el, c.scope, NS.roster))
      if (localName(g.el.name) === 'group') groups.push(textOf(g.el));
    items.push({
      address: address!,
      // Natively an empty name means "no name" (Pidgin writes name='').
      ...(name !== undefined && (name !== '' || ctx.mode === 'canonical') ? { name } : {}),
      groups,
      subscription: (ctx.mode === 'native' && !SUBSCRIPTIONS.has(subscription)
        ? 'none'
        : subscription) as Subscription,
      pending: getAttr(c.el, 'ask') === 'subscribe',
    });
  }
  return items;
}
