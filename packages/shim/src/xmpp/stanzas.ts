import { randomUUID } from 'node:crypto';
import { addressToJid, jidToAddress } from '@crosstalk/codec-xmpp';
import {
  type Address,
  addressKey,
  type CanonicalEvent,
  LIMITS,
  type PresenceStatus,
  type RosterItem,
  SUBSCRIPTIONS,
  type Subscription,
  TYPING_STATES,
  type TypingState,
} from '@crosstalk/core';
import type { BaseOutgoingEvent } from '../base/base-client.js';

/**
 * XMPP stanzas as @xmpp/client parses and builds them (ltx elements), to and from canonical events,
 * for the XMPP base client. RFC 6121 (messages §5, presence §4, subscriptions §3, the roster §2),
 * XEP-0085 (chat states), XEP-0203 (delay), XEP-0172 (nick), XEP-0334 (hints).
 */

/** The part of an ltx element (@xmpp/xml) the adapter reads and builds. */
export interface LtxElement {
  name: string;
  attrs: Record<string, string | undefined>;
  children: (LtxElement | string)[];
  is(name: string, xmlns?: string): boolean;
  getChild(name: string, xmlns?: string): LtxElement | undefined;
  getChildren(name: string, xmlns?: string): LtxElement[];
  getChildText(name: string, xmlns?: string): string | null;
  getChildElements(): LtxElement[];
  getText(): string;
  toString(): string;
}

/** @xmpp/client's `xml()`: an element from its name, attributes and children. */
export type BuildElement = (
  name: string,
  attrs?: Record<string, string | undefined> | null,
  ...children: (LtxElement | string)[]
) => LtxElement;

export const NS = {
  client: 'jabber:client',
  roster: 'jabber:iq:roster',
  chatStates: 'http://jabber.org/protocol/chatstates',
  delay: 'urn:xmpp:delay',
  nick: 'http://jabber.org/protocol/nick',
  hints: 'urn:xmpp:hints',
} as const;

/** RFC 6121 §4.7.2.1 `<show/>` values and the canonical statuses (as codec-xmpp maps them). */
const SHOW_TO_STATUS: Readonly<Record<string, PresenceStatus>> = {
  chat: 'online',
  away: 'away',
  dnd: 'busy',
  xa: 'idle',
};
const STATUS_TO_SHOW: Partial<Record<PresenceStatus, string>> = { away: 'away', busy: 'dnd', idle: 'xa' };

/** The bare address of a JID attribute, or undefined for a JID that names no user. */
export function addressOf(jid: string | undefined): Address | undefined {
  return jidToAddress(jid);
}

/** An id from the wire when it is a valid event id, else a fresh one. */
function eventId(id: string | undefined): string {
  return id && id.length <= LIMITS.id ? id : randomUUID();
}

/**
 * The canonical event an incoming `<message>` or `<presence>` carries for `self`, or undefined
 * (errors, stanzas from no user or from the user's own other resources, kinds with no event).
 * Limits are the shim's to check (`validateEvent`): this only maps.
 */
export function readStanza(el: LtxElement, self: Address, now: () => number): CanonicalEvent | undefined {
  const from = addressOf(el.attrs.from);
  if (!from || addressKey(from) === addressKey(self)) return undefined;
  if (el.name === 'message') return readMessage(el, from, self, now);
  if (el.name === 'presence') return readPresence(el, from, self);
  return undefined;
}

function readMessage(el: LtxElement, from: Address, self: Address, now: () => number) {
  const type = el.attrs.type ?? 'normal';
  // RFC 6121 §5.2.2: chat and normal messages are for the user; groupchat, headline and errors are not.
  if (type !== 'chat' && type !== 'normal') return undefined;
  const body = el.getChildText('body');
  if (body !== null) {
    const stamp = el.getChild('delay', NS.delay)?.attrs.stamp;
    const delayed = stamp === undefined ? Number.NaN : Date.parse(stamp);
    return {
      kind: 'im' as const,
      id: eventId(el.attrs.id),
      from,
      to: self,
      text: body,
      sentAt: Number.isFinite(delayed) && delayed >= 0 ? delayed : now(),
    };
  }
  const state = el.getChildElements().find((c) => c.attrs.xmlns === NS.chatStates);
  if (state && (TYPING_STATES as readonly string[]).includes(state.name))
    return { kind: 'typing' as const, from, to: self, state: state.name as TypingState };
  return undefined;
}

function readPresence(el: LtxElement, from: Address, self: Address): CanonicalEvent | undefined {
  const status = el.getChildText('status') ?? undefined;
  switch (el.attrs.type) {
    case undefined: {
      const show = el.getChildText('show');
      return {
        kind: 'presence',
        from,
        status: (show && SHOW_TO_STATUS[show]) || 'online',
        ...(status === undefined ? {} : { text: status }),
      };
    }
    case 'unavailable':
      return { kind: 'presence', from, status: 'offline', ...(status === undefined ? {} : { text: status }) };
    // RFC 6121 §3.1.3: a subscription request; XEP-0172: the requester's nickname with it.
    case 'subscribe': {
      const nick = el.getChildText('nick', NS.nick) ?? undefined;
      return {
        kind: 'buddy-request',
        ...(el.attrs.id === undefined || el.attrs.id.length > LIMITS.id ? {} : { id: el.attrs.id }),
        from,
        to: self,
        ...(nick === undefined ? {} : { name: nick }),
        ...(status === undefined ? {} : { message: status }),
      };
    }
    // §3.1.5 (approved) and §3.2 (denied, or a subscription cancelled).
    case 'subscribed':
    case 'unsubscribed':
      return {
        kind: 'buddy-response',
        from,
        to: self,
        accepted: el.attrs.type === 'subscribed',
        ...(status === undefined ? {} : { message: status }),
      };
    default:
      return undefined; // unsubscribe, probe, error
  }
}

/** A roster `<item/>` (RFC 6121 §2.1.2) as a `RosterItem`, or undefined for one that is not a user or breaks the limits. */
export function readRosterItem(item: LtxElement): RosterItem | 'remove' | undefined {
  const address = addressOf(item.attrs.jid);
  if (!address) return undefined;
  const subscription = item.attrs.subscription ?? 'none';
  if (subscription === 'remove') return 'remove';
  if (!(SUBSCRIPTIONS as readonly string[]).includes(subscription)) return undefined;
  const name = item.attrs.name;
  const groups = item.getChildren('group').map((g) => g.getText());
  if (name !== undefined && name.length > LIMITS.name) return undefined;
  if (groups.length > LIMITS.groups || groups.some((g) => g.length > LIMITS.name)) return undefined;
  return {
    address,
    ...(name ? { name } : {}),
    groups,
    subscription: subscription as Subscription,
    pending: item.attrs.ask === 'subscribe',
  };
}

/**
 * The stanzas that carry an event from the user to a user of the XMPP network. An accepted request
 * also asks back when the user is not subscribed to the requester yet, so both end up mutual
 * (`both`), as every other network's answer makes them.
 */
export function writeStanzas(
  event: BaseOutgoingEvent,
  xml: BuildElement,
  subscribedTo: (a: Address) => boolean,
): LtxElement[] {
  const to = addressToJid(event.to);
  switch (event.kind) {
    case 'im':
      return [
        xml(
          'message',
          { type: 'chat', to, id: event.id },
          xml('body', {}, event.text),
          xml('active', { xmlns: NS.chatStates }),
        ),
      ];
    case 'typing':
      // XEP-0085 §5.5: a standalone notification; XEP-0334: no archive needs to keep it.
      return [
        xml(
          'message',
          { type: 'chat', to },
          xml(event.state, { xmlns: NS.chatStates }),
          xml('no-store', { xmlns: NS.hints }),
        ),
      ];
    case 'buddy-request': {
      const children: LtxElement[] = [];
      if (event.name !== undefined) children.push(xml('nick', { xmlns: NS.nick }, event.name));
      if (event.message !== undefined) children.push(xml('status', {}, event.message));
      return [xml('presence', { type: 'subscribe', to, ...(event.id ? { id: event.id } : {}) }, ...children)];
    }
    case 'buddy-response': {
      const status = event.message === undefined ? [] : [xml('status', {}, event.message)];
      if (!event.accepted) return [xml('presence', { type: 'unsubscribed', to }, ...status)];
      const out = [xml('presence', { type: 'subscribed', to }, ...status)];
      if (!subscribedTo(event.to)) out.push(xml('presence', { type: 'subscribe', to }));
      return out;
    }
  }
}

/** The user's own presence broadcast (RFC 6121 §4.2, §4.7); invisible and offline are unavailable. */
export function writePresence(
  status: PresenceStatus,
  text: string | undefined,
  xml: BuildElement,
): LtxElement {
  const children: LtxElement[] = [];
  const show = STATUS_TO_SHOW[status];
  if (show) children.push(xml('show', {}, show));
  if (text !== undefined && text !== '') children.push(xml('status', {}, text));
  if (status === 'offline' || status === 'invisible')
    return xml('presence', { type: 'unavailable' }, ...children);
  return xml('presence', {}, ...children);
}
