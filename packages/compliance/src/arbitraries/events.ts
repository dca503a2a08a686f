import type { Address, CanonicalEvent, EventKind, RosterItem } from '@crosstalk/core';
import { CALL_SIGNALS, EVENT_KINDS, PRESENCE_STATUSES, SUBSCRIPTIONS, TYPING_STATES } from '@crosstalk/core';
import fc from 'fast-check';

/**
 * fast-check arbitraries for valid addresses and canonical events, for property tests of every
 * codec's translation and of the G2G stanza form.
 */

const lower = 'abcdefghijklmnopqrstuvwxyz';
const digits = '0123456789';
const chars = (alphabet: string, min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...alphabet.split('')), minLength: min, maxLength: max });

/** Valid AIM addresses (screen names with spaces and capitals). */
export const arbAolAddress: fc.Arbitrary<Address> = fc
  .tuple(chars(lower + lower.toUpperCase(), 1, 1), chars(lower + digits + ' ', 2, 14))
  .map(([a, b]) => ({ user: (a + b).trim().replace(/ +/g, ' '), network: 'aol' }));
/** Valid ICQ addresses (UINs). */
export const arbIcqAddress: fc.Arbitrary<Address> = chars(digits, 5, 10)
  .filter((s) => s[0] !== '0')
  .map((user) => ({ user, network: 'icq' }));
/** Valid Yahoo addresses. */
export const arbYahooAddress: fc.Arbitrary<Address> = fc
  .tuple(chars(lower, 1, 1), chars(lower + digits + '_.', 0, 20))
  .map(([a, b]) => ({ user: a + b, network: 'yahoo' }));
/** Valid MSN addresses (passports). */
export const arbMsnAddress: fc.Arbitrary<Address> = fc
  .tuple(chars(lower + digits + '._', 1, 12), fc.constantFrom('hotmail.com', 'msn.com', 'example.com'))
  .map(([local, domain]) => ({ user: `${local}@${domain}`, network: 'msn' }));
/** Valid XMPP addresses (bare JIDs on a few domains). */
export const arbXmppAddress: fc.Arbitrary<Address> = fc
  .tuple(chars(lower + digits + '._-', 1, 16), fc.constantFrom('localhost', 'jabber.org', 'example.net'))
  .map(([user, network]) => ({ user, network }));

/** Any valid address on a built-in network. */
export const arbAddress: fc.Arbitrary<Address> = fc.oneof(
  arbAolAddress,
  arbIcqAddress,
  arbYahooAddress,
  arbMsnAddress,
  arbXmppAddress,
);

/** Text with the characters that break naive codecs: non-ASCII, astral, markup, separators. */
export const arbText = (maxLength = 200): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.constantFrom(
      'héllo wörld',
      '日本語のテキスト',
      '😀 emoji 🎉',
      '<b>not html</b> & "quotes"',
      'a\u00c0\u0080b',
      'line\r\nbreak',
    ),
  );

const arbId = chars(lower + digits + '-', 1, 24);
const arbTime = fc.integer({ min: 0, max: 4_102_444_800_000 });
const arbName = fc.string({ minLength: 1, maxLength: 40 });

/** Valid roster items. */
export const arbRosterItem: fc.Arbitrary<RosterItem> = fc.record(
  {
    address: arbAddress,
    name: arbName,
    groups: fc.array(arbName, { maxLength: 3 }),
    subscription: fc.constantFrom(...SUBSCRIPTIONS),
    pending: fc.boolean(),
  },
  { requiredKeys: ['address', 'groups', 'subscription', 'pending'] },
);

/** Valid canonical events, one arbitrary per kind. */
export const arbEventOfKind: {
  readonly [K in EventKind]: fc.Arbitrary<Extract<CanonicalEvent, { kind: K }>>;
} = {
  im: fc.record(
    {
      kind: fc.constant('im' as const),
      id: arbId,
      from: arbAddress,
      to: arbAddress,
      text: arbText(),
      html: arbText(),
      sentAt: arbTime,
    },
    { requiredKeys: ['kind', 'id', 'from', 'to', 'text', 'sentAt'] },
  ),
  typing: fc.record({
    kind: fc.constant('typing' as const),
    from: arbAddress,
    to: arbAddress,
    state: fc.constantFrom(...TYPING_STATES),
  }),
  presence: fc.record(
    {
      kind: fc.constant('presence' as const),
      from: arbAddress,
      to: arbAddress,
      status: fc.constantFrom(...PRESENCE_STATUSES),
      text: arbText(80),
      idleSince: arbTime,
    },
    { requiredKeys: ['kind', 'from', 'status'] },
  ),
  roster: fc.record({
    kind: fc.constant('roster' as const),
    owner: arbAddress,
    items: fc.array(arbRosterItem, { maxLength: 5 }),
  }),
  'buddy-request': fc.record(
    {
      kind: fc.constant('buddy-request' as const),
      id: arbId,
      from: arbAddress,
      to: arbAddress,
      name: arbName,
      message: arbText(80),
    },
    { requiredKeys: ['kind', 'from', 'to'] },
  ),
  'buddy-response': fc.record(
    {
      kind: fc.constant('buddy-response' as const),
      id: arbId,
      from: arbAddress,
      to: arbAddress,
      accepted: fc.boolean(),
      message: arbText(80),
    },
    { requiredKeys: ['kind', 'from', 'to', 'accepted'] },
  ),
  'file-offer': fc.record(
    {
      kind: fc.constant('file-offer' as const),
      id: arbId,
      from: arbAddress,
      to: arbAddress,
      name: arbName,
      size: fc.integer({ min: 0, max: 2 ** 40 }),
      mediaType: fc.constantFrom('text/plain', 'image/png', 'application/octet-stream'),
      sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
    },
    { requiredKeys: ['kind', 'id', 'from', 'to', 'name', 'size'] },
  ),
  'call-invite': fc.record({
    kind: fc.constant('call-invite' as const),
    id: arbId,
    from: arbAddress,
    to: arbAddress,
    sdp: fc.constant(
      'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 16000 RTP/AVP 0\r\n',
    ),
    media: fc.subarray(['audio', 'video'] as ('audio' | 'video')[], { minLength: 1 }),
  }),
  'call-signal': fc.record(
    {
      kind: fc.constant('call-signal' as const),
      id: arbId,
      from: arbAddress,
      to: arbAddress,
      signal: fc.constantFrom(...CALL_SIGNALS),
      sdp: fc.constant('v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 16002 RTP/AVP 0\r\n'),
      reason: arbName,
    },
    { requiredKeys: ['kind', 'id', 'from', 'to', 'signal'] },
  ),
} satisfies { [K in CanonicalEvent['kind']]: fc.Arbitrary<Extract<CanonicalEvent, { kind: K }>> };

/** Any valid canonical event. */
export const arbEvent: fc.Arbitrary<CanonicalEvent> = fc.oneof(
  ...EVENT_KINDS.map((k) => arbEventOfKind[k] as fc.Arbitrary<CanonicalEvent>),
);
