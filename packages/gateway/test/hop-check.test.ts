import { isCrossTalkError } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { type GatewayIdentity, generateIdentity } from '../src/index.js';
import {
  decodeEnvelope,
  type EnvelopeHeader,
  type EnvelopeStep,
  encodeEnvelope,
  signEnvelope,
} from '../src/routing/envelope.js';
import { checkHop, type HopContext } from '../src/routing/hop-check.js';

const NOW = 1_700_000_000_000;
const [a, b, c, d] = [generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()];
const contact = (port: number) => ({ transport: 'tcp', host: '127.0.0.1', port });

/** A -> B -> D: AIM into JSON at A, JSON into stanzas at B, stanzas into IRC at D. */
const CHAIN: EnvelopeStep[] = [
  { from: 'oscar', to: 'canonical:json', gateway: a.id, contact: contact(1) },
  { from: 'canonical:json', to: 'canonical:xmpp-stanza', gateway: b.id, contact: contact(2) },
  { from: 'canonical:xmpp-stanza', to: 'irc', gateway: d.id, contact: contact(4) },
];

function envelope(over: Partial<Parameters<typeof signEnvelope>[1]> = {}, signer: GatewayIdentity = a) {
  return signEnvelope(signer, {
    id: 'e1',
    issuedAt: NOW,
    from: 'alice@aol',
    to: 'bob@irc',
    kind: 'im',
    chain: CHAIN,
    hopLimit: 2,
    next: 1,
    form: 'json',
    lost: [],
    ...over,
  });
}

function ctx(over: Partial<HopContext> = {}): HopContext {
  return {
    self: b.id,
    sender: a.id,
    now: NOW + 10,
    maxAge: 60_000,
    maxSkew: 30_000,
    performs: () => true,
    ...over,
  };
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    if (isCrossTalkError(error)) return error.code;
    throw error;
  }
  throw new Error('not refused');
}

describe('routed envelope', () => {
  it('round-trips through its wire form, and refuses what is not one', () => {
    const header = envelope();
    const payload = Buffer.from('{"kind":"im"}');
    const back = decodeEnvelope(encodeEnvelope({ header, payload }));
    expect(back.header).toEqual(header);
    expect(Buffer.from(back.payload).toString()).toBe('{"kind":"im"}');
    for (const bad of [
      Buffer.from([0]),
      Buffer.from([0xff, 0xff, 1, 2]),
      Buffer.concat([Buffer.from([0, 4]), Buffer.from('nope')]),
      encodeEnvelope({ header: { ...header, extra: 1 } as EnvelopeHeader, payload }),
      encodeEnvelope({ header: { ...header, chain: [] }, payload }),
    ])
      expect(refusal(() => decodeEnvelope(bad))).toBe('ERR_INVALID_ENVELOPE');
  });
});

describe('each hop checks', () => {
  it('a well-formed envelope: B performs step 1 and hands step 2 to D', () => {
    const plan = checkHop(envelope(), ctx());
    expect(plan.mine.map((s) => s.to)).toEqual(['canonical:xmpp-stanza']);
    expect(plan.after).toBe(2);
    expect(plan.next?.gateway).toBe(d.id);
    // D, the last hop, delivers.
    const last = checkHop({ ...envelope(), next: 2, hops: 1 }, ctx({ self: d.id, sender: b.id }));
    expect(last.next).toBeUndefined();
  });

  it('a chain whose first step is not the origin’s (a user with no codec, already canonical): B takes it from A', () => {
    const chain = CHAIN.slice(1);
    const header = envelope({ chain, next: 0, hopLimit: 2 });
    expect(checkHop(header, ctx()).next?.gateway).toBe(d.id);
    expect(refusal(() => checkHop(header, ctx({ sender: c.id })))).toBe('ERR_WRONG_PREVIOUS_HOP');
    // The origin cannot come back later in its own chain.
    const back = [...chain.slice(0, 1), { ...chain[1]!, gateway: a.id }];
    expect(refusal(() => checkHop(envelope({ chain: back, next: 0 }), ctx()))).toBe('ERR_ROUTE_LOOP');
  });

  it('that it is the next step: C, or B asked for D’s step, refuses', () => {
    expect(refusal(() => checkHop(envelope(), ctx({ self: c.id })))).toBe('ERR_NOT_NEXT_HOP');
    expect(refusal(() => checkHop({ ...envelope(), next: 2 }, ctx({ sender: a.id })))).toBe(
      'ERR_NOT_NEXT_HOP',
    );
    expect(refusal(() => checkHop({ ...envelope(), next: 0 }, ctx()))).toBe('ERR_NOT_NEXT_HOP');
    expect(refusal(() => checkHop(envelope(), ctx({ performs: () => false })))).toBe('ERR_NOT_NEXT_HOP');
  });

  it('that the hop limit has not run out (0 left), is not over the signed limit, and covers the rest', () => {
    expect(refusal(() => checkHop({ ...envelope(), hops: 0 }, ctx()))).toBe('ERR_HOP_LIMIT');
    expect(refusal(() => checkHop({ ...envelope(), hops: 3 }, ctx()))).toBe('ERR_HOP_LIMIT');
    // One hop left at B, but B -> D still needs a transfer after this one.
    expect(refusal(() => checkHop({ ...envelope(), hops: 1 }, ctx()))).toBe('ERR_HOP_LIMIT');
  });

  it('that the sender is the previous step’s gateway', () => {
    expect(refusal(() => checkHop(envelope(), ctx({ sender: c.id })))).toBe('ERR_WRONG_PREVIOUS_HOP');
  });

  it('the origin’s signature: another key, or a chain changed on the way, is a forgery', () => {
    const forged = { ...envelope({}, c), origin: a.id };
    expect(refusal(() => checkHop(forged, ctx()))).toBe('ERR_FORGED_ENVELOPE');
    const rerouted = { ...envelope(), chain: CHAIN.map((s, i) => (i === 1 ? { ...s, gateway: c.id } : s)) };
    expect(refusal(() => checkHop(rerouted, ctx({ self: c.id })))).toBe('ERR_FORGED_ENVELOPE');
    expect(refusal(() => checkHop({ ...envelope(), to: 'mallory@irc' }, ctx()))).toBe('ERR_FORGED_ENVELOPE');
  });

  it('its age: signed too long ago, or dated ahead', () => {
    expect(refusal(() => checkHop(envelope(), ctx({ now: NOW + 60_001 })))).toBe('ERR_STALE_ENVELOPE');
    expect(refusal(() => checkHop(envelope({ issuedAt: NOW + 31_000 }), ctx()))).toBe('ERR_STALE_ENVELOPE');
  });

  it('loops: a chain back to a gateway or a format (even signed by its origin), and an envelope seen before', () => {
    const back: EnvelopeStep[] = [
      CHAIN[0]!,
      CHAIN[1]!,
      { from: 'canonical:xmpp-stanza', to: 'canonical:json2', gateway: c.id, contact: contact(3) },
      { from: 'canonical:json2', to: 'irc', gateway: b.id, contact: contact(2) },
    ];
    expect(refusal(() => checkHop(envelope({ chain: back, hopLimit: 3 }), ctx()))).toBe('ERR_ROUTE_LOOP');
    const circle: EnvelopeStep[] = [
      CHAIN[0]!,
      CHAIN[1]!,
      { from: 'canonical:xmpp-stanza', to: 'canonical:json', gateway: d.id, contact: contact(4) },
    ];
    expect(refusal(() => checkHop(envelope({ chain: circle }), ctx()))).toBe('ERR_ROUTE_LOOP');
  });
});
