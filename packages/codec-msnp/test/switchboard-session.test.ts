import type { Address, CanonicalEvent, ProxySession } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { isVirtualSwitchboardData, type VirtualSwitchboardData } from '../src/index.js';
import { eventsOf, feed, loginMsnp8, mimeText, msgLine, msnAddress, testGateway } from './session-harness.js';

const alice = msnAddress('alice@example.com');
const bobYahoo: Address = { user: 'bob', network: 'yahoo' };
const typingPayload =
  'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: alice@example.com\r\n\r\n\r\n';

/** alice's notification session hands out a switchboard cookie; her switchboard session presents it. */
function callerSwitchboard(options: Parameters<typeof testGateway>[0] = {}) {
  const gateway = testGateway(options);
  gateway.roster.set('alice@example.com', [
    { address: bobYahoo, name: 'Bob Y', groups: [], subscription: 'both', pending: false },
  ]);
  const ns = gateway.open();
  loginMsnp8(ns, 'alice@example.com', 'Alice');
  feed(ns, 'client', 'XFR 9 SB\r\n');
  feed(ns, 'server', 'XFR 9 SB m1.escargot.log1p.xyz:1864 CKI 535f8aab96989d07d34f\r\n');
  const sb = gateway.open();
  const usr = feed(sb, 'client', 'USR 1 alice@example.com 535f8aab96989d07d34f\r\n');
  const ok = feed(sb, 'server', 'USR 1 OK alice@example.com Alice\r\n');
  return { gateway, ns, sb, usr, ok };
}

describe('switchboard session (real server)', () => {
  it('is tied to its user by the cookie and verified when the server accepts it', () => {
    const { gateway, sb, usr, ok } = callerSwitchboard();
    expect(usr.toServer).toBe('USR 1 alice@example.com 535f8aab96989d07d34f\r\n');
    expect(usr.events).toEqual([{ type: 'identified', address: alice }]);
    expect(ok.toClient).toBe('USR 1 OK alice@example.com Alice\r\n');
    expect(ok.events).toEqual([{ type: 'verified', address: alice }]);
    expect(sb.user).toEqual(alice);
    expect(gateway.cookies.lookup('msnp', '535f8aab96989d07d34f')).toBeUndefined();
  });

  it('stays an unverified relay for a cookie nobody recorded', () => {
    const sb = testGateway().open();
    feed(sb, 'client', 'USR 1 mallory@example.com 0000\r\n');
    const ok = feed(sb, 'server', 'USR 1 OK mallory@example.com Mallory\r\n');
    expect(ok.events).toEqual([]);
    expect(sb.state).toBe('connecting');
    expect(() =>
      sb.deliver({ kind: 'im', id: 'x', from: bobYahoo, to: alice, text: 'x', sentAt: 0 }),
    ).toThrow(expect.objectContaining({ code: 'ERR_SESSION_STATE' }));
  });

  it('plays a conversation with a foreign buddy locally', () => {
    const { sb } = callerSwitchboard();
    const cal = feed(sb, 'client', 'CAL 2 bob@yahoo\r\n');
    // Nobody native in it: the gateway leaves the real switchboard (below).
    expect(cal.toServer).toBe('OUT\r\n');
    expect(cal.toClient).toMatch(/^CAL 2 RINGING \d+\r\nJOI bob@yahoo Bob%20Y\r\n$/);

    const text = mimeText('Hello Bob');
    const msg = feed(sb, 'client', msgLine('MSG 3 A', text));
    expect(msg.toServer).toBe('');
    expect(msg.toClient).toBe('ACK 3\r\n');
    expect(eventsOf(msg.events, 'outbound').map((e) => e.event)).toEqual([
      {
        kind: 'im',
        id: expect.any(String),
        from: alice,
        to: bobYahoo,
        text: 'Hello Bob',
        html: '<span style="font-family:Arial;color:#ff0000"><b>Hello Bob</b></span>',
        sentAt: 1_700_000_000_000,
      },
    ]);
    // U: nothing back; N: nothing on success.
    const typing = feed(sb, 'client', msgLine('MSG 4 U', typingPayload));
    expect(typing.toClient).toBe('');
    expect(eventsOf(typing.events, 'outbound').map((e) => e.event)).toEqual([
      { kind: 'typing', from: alice, to: bobYahoo, state: 'composing' },
    ]);
    expect(feed(sb, 'client', msgLine('MSG 5 N', mimeText('quiet', false))).toClient).toBe('');
    // Content the canonical model cannot carry is refused honestly (a NAK), not silently acknowledged.
    const p2p =
      'MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: bob@yahoo\r\n\r\n\u0000\u0000';
    const refused = feed(sb, 'client', msgLine('MSG 6 D', p2p));
    expect(refused.toClient).toBe('NAK 6\r\n');
    expect(refused.events).toEqual([]);
  });

  it('leaves the real switchboard once only foreign buddies are in it, and plays the rest alone', () => {
    const { sb } = callerSwitchboard();
    const cal = feed(sb, 'client', 'CAL 2 bob@yahoo\r\n');
    // `OUT` to the server, then the engine closes that connection: one descriptor per conversation.
    expect(cal.toServer).toBe('OUT\r\n');
    expect(cal.events).toContainEqual({ type: 'server-released', reason: expect.any(String) });
    const msg = feed(sb, 'client', msgLine('MSG 3 A', mimeText('still here')));
    expect(msg.toServer).toBe('');
    expect(msg.toClient).toBe('ACK 3\r\n');
    expect(eventsOf(msg.events, 'outbound').map((e) => e.event)).toMatchObject([{ to: bobYahoo }]);
    // Another foreign buddy can still join; a native user cannot (nobody plays the server's part).
    expect(feed(sb, 'client', 'CAL 4 eve@yahoo\r\n').toClient).toMatch(/^CAL 4 RINGING \d+\r\nJOI eve@yahoo/);
    const native = feed(sb, 'client', 'CAL 5 carol@example.com\r\n');
    expect(native.toServer).toBe('');
    expect(native.toClient).toBe('217 5\r\n');
    // The client leaving ends the session.
    const out = feed(sb, 'client', 'OUT\r\n');
    expect(out.events).toContainEqual({ type: 'closed', reason: expect.any(String) });
  });

  it('reads nothing more from the switchboard it left', () => {
    const { sb } = callerSwitchboard();
    expect(feed(sb, 'client', 'CAL 2 bob@yahoo\r\n').events).toContainEqual({
      type: 'server-released',
      reason: expect.any(String),
    });
    // Late bytes of the server left behind (its own BYE, half a line): for nobody, never shown.
    const late = feed(sb, 'server', 'BYE alice@example.com\r\nMSG carol@exa');
    expect(late.toClient).toBe('');
    expect(late.events).toEqual([]);
    expect(feed(sb, 'client', msgLine('MSG 3 A', mimeText('still here'))).toClient).toBe('ACK 3\r\n');
  });

  it('keeps the real switchboard while a native user is in it or was called', () => {
    const { sb } = callerSwitchboard();
    feed(sb, 'client', 'CAL 2 carol@example.com\r\n');
    const cal = feed(sb, 'client', 'CAL 3 bob@yahoo\r\n');
    expect(cal.toServer).toBe('');
    expect(cal.events.map((e) => e.type)).not.toContain('server-released');
  });

  it('delivers the buddy messages into that conversation (affinity 2)', () => {
    const { sb } = callerSwitchboard();
    const im: CanonicalEvent = { kind: 'im', id: 'm', from: bobYahoo, to: alice, text: 'hey', sentAt: 0 };
    expect(sb.affinity(im)).toBe(0);
    feed(sb, 'client', 'CAL 2 bob@yahoo\r\n');
    expect(sb.affinity(im)).toBe(2);
    expect(sb.affinity({ ...im, from: { user: 'eve', network: 'yahoo' } })).toBe(0);
    const out = sb.deliver(im);
    expect(new TextDecoder().decode(out.toClient[0])).toBe(
      msgLine(
        'MSG bob@yahoo Bob%20Y',
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhey',
      ),
    );
    const typing = sb.deliver({ kind: 'typing', from: bobYahoo, to: alice, state: 'composing' });
    expect(new TextDecoder().decode(typing.toClient[0])).toContain('TypingUser: bob@yahoo\r\n');
    expect(sb.deliver({ kind: 'typing', from: bobYahoo, to: alice, state: 'paused' }).toClient).toEqual([]);
  });

  it('passes a conversation between native users byte for byte', () => {
    const { sb } = callerSwitchboard();
    const lines = [
      ['client', 'CAL 2 bob@example.com\r\n'],
      ['server', 'CAL 2 RINGING f44c327d-70f9-40e9-b423-89a906888e1c\r\n'],
      ['server', 'JOI bob@example.com Bob\r\n'],
      ['client', msgLine('MSG 3 A', mimeText('Hello Bob'))],
      ['server', 'ACK 3\r\n'],
      ['server', msgLine('MSG bob@example.com Bob', mimeText('Hi Alice'))],
      ['client', 'OUT\r\n'],
    ] as const;
    for (const [side, line] of lines) {
      const out = feed(sb, side, line);
      expect(side === 'client' ? out.toServer : out.toClient).toBe(line);
      expect(side === 'client' ? out.toClient : out.toServer).toBe('');
      expect(eventsOf(out.events, 'outbound')).toEqual([]);
    }
  });

  it('mixes: a message to native and foreign participants goes to the server and is reported', () => {
    const { sb } = callerSwitchboard();
    feed(sb, 'client', 'CAL 2 carol@example.com\r\n');
    feed(sb, 'server', 'CAL 2 RINGING 123\r\nJOI carol@example.com Carol\r\n');
    feed(sb, 'client', 'CAL 3 bob@yahoo\r\n');
    const line = msgLine('MSG 4 A', mimeText('hi both', false));
    const out = feed(sb, 'client', line);
    expect(out.toServer).toBe(line);
    expect(out.toClient).toBe(''); // the server's ACK answers it
    expect(eventsOf(out.events, 'outbound').map((e) => e.event)).toMatchObject([
      { kind: 'im', to: bobYahoo, text: 'hi both' },
    ]);
  });

  it('calls a name that may be an XMPP user (never added) on the server first; no such passport: plays it', () => {
    const { sb } = callerSwitchboard({ isForeign: (a) => a.network !== 'msn' });
    const carol: Address = { user: 'carol', network: 'jabber.org' };
    const im: CanonicalEvent = { kind: 'im', id: 'm', from: carol, to: alice, text: 'hey', sentAt: 0 };
    const cal = feed(sb, 'client', 'CAL 2 carol@jabber.org\r\n');
    expect(cal.toServer).toBe('CAL 2 carol@jabber.org\r\n');
    expect(cal.toClient).toBe('');
    // The server has no such passport (the mock: `208 2`): carol is an XMPP user after all.
    const refused = feed(sb, 'server', '208 2\r\n');
    expect(refused.toServer).toBe('OUT\r\n');
    expect(refused.toClient).toMatch(/^CAL 2 RINGING \d+\r\nJOI carol@jabber.org carol@jabber.org\r\n$/);
    const msg = feed(sb, 'client', msgLine('MSG 3 A', mimeText('Hello Carol', false)));
    expect(msg.toServer).toBe('');
    expect(msg.toClient).toBe('ACK 3\r\n');
    expect(eventsOf(msg.events, 'outbound').map((e) => e.event)).toMatchObject([
      { kind: 'im', from: alice, to: carol, text: 'Hello Carol' },
    ]);
    expect(sb.affinity(im)).toBe(2);
  });

  it('takes an error without a transaction id (Escargot: `208`) as the oldest call probe’s', () => {
    const { sb } = callerSwitchboard({ isForeign: (a) => a.network !== 'msn' });
    feed(sb, 'client', 'CAL 2 carol@jabber.org\r\n');
    expect(feed(sb, 'server', '208\r\n').toClient).toMatch(/^CAL 2 RINGING \d+\r\nJOI carol@jabber.org /);
  });

  it('leaves a call the server answers, or refuses for another reason, to the server', () => {
    const { sb } = callerSwitchboard({ isForeign: (a) => a.network !== 'msn' });
    feed(sb, 'client', 'CAL 2 dave@example.org\r\n');
    expect(feed(sb, 'server', 'CAL 2 RINGING 123\r\n').toClient).toBe('CAL 2 RINGING 123\r\n');
    feed(sb, 'client', 'CAL 3 erin@example.org\r\n');
    // 217: a passport that exists but is offline.
    expect(feed(sb, 'server', '217 3\r\n').toClient).toBe('217 3\r\n');
    // Nothing is left waiting: a later error without a transaction id passes as it is.
    expect(feed(sb, 'server', '208\r\n').toClient).toBe('208\r\n');
  });
});

describe('virtual switchboard session (no server)', () => {
  function ringing() {
    const gateway = testGateway();
    const ns = gateway.open();
    loginMsnp8(ns, 'alice@example.com', 'Alice');
    ns.deliver({ kind: 'im', id: 'm1', from: bobYahoo, to: alice, text: 'hi alice', sentAt: 1 });
    const data = gateway.allocations[0]!.data;
    expect(isVirtualSwitchboardData(data)).toBe(true);
    return { gateway, ns, data: data as VirtualSwitchboardData };
  }

  it('answers ANS like a switchboard, then delivers what was waiting', () => {
    const { gateway, ns, data } = ringing();
    const sb: ProxySession = gateway.open({ data });
    expect(data.taken).toBe(true);
    // The ring is taken: the notification session no longer collects for it (it would ring anew,
    // but once the client answered, the switchboard's affinity of 2 wins).
    expect(data.pending).toHaveLength(1);
    ns.deliver({ kind: 'typing', from: bobYahoo, to: alice, state: 'composing' });
    expect(data.pending).toHaveLength(1);
    expect(gateway.allocations).toHaveLength(2);
    const ans = feed(sb, 'client', `ANS 1 alice@example.com ${data.cookie} ${data.sessid}\r\n`);
    expect(ans.toServer).toBe('');
    expect(ans.events).toEqual([
      { type: 'identified', address: alice },
      { type: 'verified', address: alice },
    ]);
    expect(ans.toClient).toBe(
      `IRO 1 1 1 bob@yahoo bob@yahoo\r\nANS 1 OK\r\n${msgLine('MSG bob@yahoo bob@yahoo', 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhi alice')}`,
    );
    const reply = feed(sb, 'client', msgLine('MSG 2 A', mimeText('hi bob', false)));
    expect(reply.toServer).toBe('');
    expect(reply.toClient).toBe('ACK 2\r\n');
    expect(eventsOf(reply.events, 'outbound').map((e) => e.event)).toMatchObject([
      { kind: 'im', from: alice, to: bobYahoo, text: 'hi bob' },
    ]);
    expect(sb.affinity({ kind: 'im', id: 'm3', from: bobYahoo, to: alice, text: 'x', sentAt: 0 })).toBe(2);
    // A native user cannot join a conversation only the gateway plays.
    expect(feed(sb, 'client', 'CAL 3 carol@example.com\r\n').toClient).toBe('217 3\r\n');
    const out = feed(sb, 'client', 'OUT\r\n');
    expect(out.events).toEqual([{ type: 'closed', reason: 'client left the conversation' }]);
    expect(sb.state).toBe('closed');
  });

  it('refuses a wrong cookie as a switchboard does (911) and closes', () => {
    const { gateway, data } = ringing();
    const sb = gateway.open({ data });
    const out = feed(sb, 'client', `ANS 1 alice@example.com wrong ${data.sessid}\r\n`);
    expect(out.toClient).toBe('911 1\r\n');
    expect(out.events).toEqual([{ type: 'closed', reason: 'switchboard login refused' }]);
    expect(() => sb.fromClient(new TextEncoder().encode('OUT\r\n'))).toThrow(
      expect.objectContaining({ code: 'ERR_STREAM_CLOSED' }),
    );
  });
});

describe('idle conversations (issue 20: descriptors)', () => {
  const text = (out: ReturnType<ProxySession['close']> | undefined) =>
    out === undefined ? undefined : new TextDecoder().decode(Buffer.concat(out.toClient));

  it('a rung-in conversation left quiet ends as an idle switchboard: BYE buddy 1, then closed', () => {
    const gateway = testGateway();
    const ns = gateway.open();
    loginMsnp8(ns, 'alice@example.com', 'Alice');
    // The notification connection is never the gateway's to end.
    expect(ns.endIfIdle?.()).toBeUndefined();
    ns.deliver({ kind: 'im', id: 'm1', from: bobYahoo, to: alice, text: 'hi alice', sentAt: 1 });
    const data = gateway.allocations[0]!.data as VirtualSwitchboardData;
    const sb = gateway.open({ data });
    // Not answered yet: nothing to end (the ring's own timeout is the client's).
    expect(sb.endIfIdle?.()).toBeUndefined();
    feed(sb, 'client', `ANS 1 alice@example.com ${data.cookie} ${data.sessid}\r\n`);
    const idle = sb.endIfIdle?.();
    expect(text(idle)).toBe('BYE bob@yahoo 1\r\n');
    expect(idle?.events).toEqual([{ type: 'closed', reason: 'idle conversation ended' }]);
    expect(sb.state).toBe('closed');
    expect(sb.endIfIdle?.()).toBeUndefined();
    // The buddy's next message rings the client into a new conversation.
    const again = ns.deliver({ kind: 'im', id: 'm2', from: bobYahoo, to: alice, text: 'back', sentAt: 2 });
    expect(new TextDecoder().decode(Buffer.concat(again.toClient))).toMatch(/^RNG \d+ /);
    expect(gateway.allocations).toHaveLength(2);
  });

  it('a conversation played alone after leaving the real switchboard ends the same way; one on it stays', () => {
    const played = callerSwitchboard().sb;
    feed(played, 'client', 'CAL 2 bob@yahoo\r\n');
    const idle = played.endIfIdle?.();
    expect(text(idle)).toBe('BYE bob@yahoo 1\r\n');
    expect(idle?.events).toEqual([{ type: 'closed', reason: 'idle conversation ended' }]);

    // With a native participant the real switchboard is still there: its server ends it, not us.
    const mixed = callerSwitchboard().sb;
    feed(mixed, 'client', 'CAL 2 carol@example.com\r\n');
    feed(mixed, 'client', 'CAL 3 bob@yahoo\r\n');
    expect(mixed.endIfIdle?.()).toBeUndefined();
    expect(mixed.state).toBe('verified');
  });
});

describe('proxy session errors', () => {
  it('a framing error ends the session with a typed error, after the good frames', () => {
    const session = testGateway().open();
    const out = session.fromClient(new TextEncoder().encode('VER 1 MSNP8 CVR0\r\nMSG 1 A nope\r\n'));
    expect(new TextDecoder().decode(out.toServer[0])).toBe('VER 1 MSNP8 CVR0\r\n');
    expect(out.events).toEqual([
      {
        type: 'closed',
        reason: expect.any(String),
        error: expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }),
      },
    ]);
    expect(session.state).toBe('closed');
    const fresh = testGateway().open();
    expect(() => fresh.fromClient(new TextEncoder().encode('MSG 1 A nope\r\n'))).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }),
    );
  });
});
