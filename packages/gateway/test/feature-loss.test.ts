import { type CanonicalEvent, parseAddress } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { carry, LossNotices, lossNotice } from '../src/routing/feature-loss.js';

const alice = parseAddress('alice@aol');
const bob = parseAddress('bob@irc');
const carol = parseAddress('carol@irc');
const im = (to = bob): CanonicalEvent => ({
  kind: 'im',
  id: 'm1',
  from: alice,
  to,
  text: 'hi there',
  html: '<b>hi</b> there',
  sentAt: 1,
});
const typing: CanonicalEvent = { kind: 'typing', from: alice, to: bob, state: 'composing' };

describe('feature loss along a chain', () => {
  it('each step subtracts what it does not keep; the event comes out reduced, with what it lost', () => {
    const out = carry(im(), [{ preserves: ['im', 'im.html', 'typing'] }, { preserves: ['im', 'presence'] }]);
    expect(out.lost).toEqual(['im.html']);
    expect(out.event).toMatchObject({ kind: 'im', text: 'hi there' });
    expect(out.event && 'html' in out.event).toBe(false);
  });

  it('a step that cannot carry the kind drops the event whole', () => {
    expect(carry(typing, [{ preserves: ['im'] }])).toEqual({ event: undefined, lost: ['typing'] });
  });

  it('tells a sender once per conversation and feature, never about a presence broadcast', () => {
    const notices = new LossNotices();
    expect(notices.untold(im(), ['im.html'])).toEqual(['im.html']);
    expect(notices.untold(im(), ['im.html'])).toEqual([]);
    expect(notices.untold(typing, ['im.html', 'typing'])).toEqual(['typing']);
    // Another conversation is told again.
    expect(notices.untold(im(carol), ['im.html'])).toEqual(['im.html']);
    const presence: CanonicalEvent = {
      kind: 'presence',
      from: alice,
      to: bob,
      status: 'online',
      idleSince: 5,
    };
    expect(notices.untold(presence, ['presence.idle'])).toEqual([]);
  });

  it('forgets the oldest conversations past its bound (they may be told again)', () => {
    const notices = new LossNotices(2);
    for (const to of ['a@irc', 'b@irc', 'c@irc']) notices.untold(im(parseAddress(to)), ['im.html']);
    expect(notices.untold(im(parseAddress('a@irc')), ['im.html'])).toEqual(['im.html']);
    expect(notices.untold(im(parseAddress('c@irc')), ['im.html'])).toEqual([]);
  });

  it('says what is lost in words, to whom, and why', () => {
    expect(lossNotice(bob, ['im.html', 'typing'], 'bob@irc uses irc')).toBe(
      'CrossTalk: formatting (bold, colours, links) and typing notifications cannot reach bob@irc ' +
        '(bob@irc uses irc); the rest of what you send gets there.',
    );
  });
});
