import { join } from 'node:path';
import { readTranscript } from '@crosstalk/compliance';
import {
  type Address,
  type CanonicalEvent,
  isCrossTalkError,
  isDomainNetwork,
  isKnownNetwork,
  MemoryCookieTable,
  type ProxySession,
  type SessionContext,
  type SessionOutput,
  utf8,
} from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { irc } from '../src/index.js';

const codec = irc();
const alice: Address = { user: 'alice', network: 'irc' };
const bob: Address = { user: 'bob', network: 'yahoo' };
const carol: Address = { user: 'carol', network: 'localhost' };
const WELCOME = ':irc.test 001 alice :Welcome to the Internet Relay Network alice!~alice@127.0.0.1\r\n';

function context(): SessionContext {
  let ids = 0;
  return {
    connectionId: 'test',
    target: { host: '127.0.0.1', port: 6667 },
    isForeign: (a) => a.network !== 'irc' && (isKnownNetwork(a.network) || isDomainNetwork(a.network)),
    foreignRoster: () => [],
    cookies: new MemoryCookieTable(),
    endpoints: { allocate: () => ({ host: '127.0.0.1', port: 1 }), release() {} },
    now: () => 1_700_000_000_000,
    newId: () => `id-${++ids}`,
  };
}

const text = (parts: Uint8Array[]) => parts.map((p) => Buffer.from(p).toString('utf8')).join('');
const client = (s: ProxySession, line: string) => s.fromClient(utf8(line));
const server = (s: ProxySession, line: string) => s.fromServer(utf8(line));
const types = (out: SessionOutput) => out.events.map((e) => e.type);
const outbound = (out: SessionOutput) => out.events.flatMap((e) => (e.type === 'outbound' ? [e.event] : []));

/** A session after alice's login as ngIRCd confirmed it to ii (test/fixtures). */
function verified(): ProxySession {
  const s = codec.openSession(context());
  const writes = readTranscript(join(import.meta.dirname, 'fixtures', 'ngircd-ii-login.jsonl'));
  for (const w of writes.slice(0, 2))
    (w.direction === 'client' ? s.fromClient : s.fromServer).call(s, w.bytes);
  expect(s.state).toBe('verified');
  return s;
}

const im = (from: Address, to: Address, body: string): CanonicalEvent => ({
  kind: 'im',
  id: 'm1',
  from,
  to,
  text: body,
  sentAt: 0,
});

describe('the identity gate', () => {
  it('a welcome for another nick than the one the client registered does not verify', () => {
    const s = codec.openSession(context());
    expect(types(client(s, 'NICK alice\r\nUSER alice 0 * :Alice\r\n'))).toEqual(['identified']);
    expect(types(server(s, WELCOME.replace(/alice/g, 'mallory')))).toEqual([]);
    expect(s.state).toBe('identified');
    expect(() => s.deliver(im(bob, alice, 'hi'))).toThrow(
      expect.objectContaining({ code: 'ERR_SESSION_STATE' }),
    );
  });

  it('after a nick collision (433) the client picks another nick, and that one is verified', () => {
    const s = codec.openSession(context());
    client(s, 'NICK alice\r\nUSER alice 0 * :Alice\r\n');
    server(s, ':irc.test 433 * alice :Nickname already in use\r\n');
    const renamed = client(s, 'NICK alice_\r\n');
    expect(renamed.events).toEqual([{ type: 'identified', address: { user: 'alice_', network: 'irc' } }]);
    const out = server(s, WELCOME.replace(/alice/g, 'alice_'));
    expect(out.events).toEqual([{ type: 'verified', address: { user: 'alice_', network: 'irc' } }]);
  });

  it('a wrong server password is reported as a failed login, and nothing verifies', () => {
    const s = codec.openSession(context());
    client(s, 'PASS wrong\r\nNICK alice\r\nUSER alice 0 * :Alice\r\n');
    const out = server(s, 'ERROR :Access denied: Bad password?\r\n');
    expect(out.events).toEqual([
      { type: 'login-failed', address: alice, code: 'ERROR', message: 'Access denied: Bad password?' },
    ]);
  });

  it('after /nick away from the verified nick the session only relays, until the nick comes back', () => {
    const s = verified();
    client(s, 'NICK alice2\r\n');
    expect(s.affinity(im(bob, alice, 'x'))).toBe(1); // not yet: the server has not confirmed it
    server(s, ':alice!~alice@127.0.0.1 NICK :alice2\r\n');
    expect(s.affinity(im(bob, alice, 'x'))).toBe(0);
    expect(() => s.deliver(im(bob, alice, 'x'))).toThrow(
      expect.objectContaining({ code: 'ERR_SESSION_STATE' }),
    );
    const sent = client(s, 'PRIVMSG bob%yahoo :are you there?\r\n');
    expect(text(sent.toServer)).toBe('PRIVMSG bob%yahoo :are you there?\r\n');
    expect(outbound(sent)).toEqual([]);
    server(s, ':alice2!~alice@127.0.0.1 NICK :alice\r\n');
    expect(s.affinity(im(bob, alice, 'x'))).toBe(1);
    expect(outbound(client(s, 'PRIVMSG bob%yahoo :back\r\n'))).toHaveLength(1);
  });
});

describe('what the client sends', () => {
  it('a PRIVMSG to foreign and native targets: the foreign ones are withheld, the rest reaches the server', () => {
    const s = verified();
    const out = client(s, 'PRIVMSG bob%yahoo,dave,carol@localhost :héllo\r\n');
    expect(text(out.toServer)).toBe('PRIVMSG dave :héllo\r\n');
    expect(outbound(out).map((e) => e.kind === 'im' && [e.to, e.text])).toEqual([
      [bob, 'héllo'],
      [carol, 'héllo'],
    ]);
  });

  it('an MSN passport and an AIM name with spaces are written as nicks and read back', () => {
    const s = verified();
    const msn = outbound(client(s, 'PRIVMSG carol.x%hotmail.com%msn :hi\r\n'))[0];
    expect(msn?.kind === 'im' && msn.to).toEqual({ user: 'carol.x@hotmail.com', network: 'msn' });
    const delivered = s.deliver(im({ user: 'Dave Smith', network: 'aol' }, alice, 'hi'));
    expect(text(delivered.toClient)).toBe(':DaveSmith%aol!crosstalk@gateway PRIVMSG alice :hi\r\n');
  });

  it('CTCP: ACTION is /me, BUDDY asks, ACCEPT and REFUSE answer; a CTCP reply to a foreign user is dropped', () => {
    const s = verified();
    const said = (line: string) => outbound(client(s, line));
    expect(said('PRIVMSG bob%yahoo :\x01ACTION waves\x01\r\n')).toMatchObject([
      { kind: 'im', text: '/me waves' },
    ]);
    expect(said('PRIVMSG bob%yahoo :\x01BUDDY hi\x01\r\n')).toMatchObject([
      { kind: 'buddy-request', from: alice, to: bob, message: 'hi' },
    ]);
    expect(said('PRIVMSG bob%yahoo :\x01REFUSE\x01\r\n')).toMatchObject([
      { kind: 'buddy-response', accepted: false },
    ]);
    const reply = client(s, 'NOTICE bob%yahoo :\x01VERSION ii 1.8\x01\r\n');
    expect(reply.toServer).toEqual([]);
    expect(outbound(reply)).toEqual([]);
  });

  it('a notice from the server itself is relayed and read as nobody’s message', () => {
    const s = verified();
    const out = server(s, ':irc.crosstalk.test NOTICE alice :*** Server restarting\r\n');
    expect(text(out.toClient)).toBe(':irc.crosstalk.test NOTICE alice :*** Server restarting\r\n');
    expect(out.events).toEqual([]);
    expect(server(s, ':dave!d@h NOTICE alice :hi\r\n').events).toMatchObject([{ type: 'inbound' }]);
  });

  it('channel traffic and messages to IRC users pass byte for byte', () => {
    const s = verified();
    for (const line of ['PRIVMSG #crosstalk :hi bob%yahoo\r\n', 'PRIVMSG dave :x\r\n', 'JOIN #a,#b\r\n']) {
      const out = client(s, line);
      expect(text(out.toServer)).toBe(line);
      expect(out.events).toEqual([]);
    }
  });

  it('AWAY reaches the server and is reported as the user’s own presence', () => {
    const s = verified();
    const away = client(s, 'AWAY :out for lunch\r\n');
    expect(text(away.toServer)).toBe('AWAY :out for lunch\r\n');
    expect(away.events).toEqual([
      { type: 'self', event: { kind: 'presence', from: alice, status: 'away', text: 'out for lunch' } },
    ]);
    expect(client(s, 'AWAY\r\n').events).toEqual([
      { type: 'self', event: { kind: 'presence', from: alice, status: 'online' } },
    ]);
  });
});

describe('what the gateway delivers', () => {
  it('a text with line breaks or longer than one message becomes several PRIVMSGs of at most 512 bytes', () => {
    const s = verified();
    const long = '日本語🎉'.repeat(60); // 780 bytes of UTF-8
    const out = s.deliver(im(bob, alice, `first\r\nQUIT :injected\n${long}`));
    const lines = text(out.toClient).split('\r\n').slice(0, -1);
    expect(lines.slice(0, 2)).toEqual([
      ':bob%yahoo!crosstalk@gateway PRIVMSG alice :first',
      ':bob%yahoo!crosstalk@gateway PRIVMSG alice :QUIT :injected',
    ]);
    expect(lines.length).toBe(4);
    for (const line of lines) expect(utf8(`${line}\r\n`).length).toBeLessThanOrEqual(512);
    expect(
      lines
        .slice(2)
        .map((l) => l.split(' :')[1])
        .join(''),
    ).toBe(long);
  });

  it('typing is dropped and HTML reduced to text, each reported as feature loss', () => {
    const s = verified();
    const typing = s.deliver({ kind: 'typing', from: bob, to: alice, state: 'composing' });
    expect(typing.toClient).toEqual([]);
    expect(typing.events).toMatchObject([{ type: 'feature-loss', lost: ['typing'] }]);
    const html = s.deliver({ ...im(bob, alice, 'bold'), html: '<b>bold</b>' } as CanonicalEvent);
    expect(text(html.toClient)).toBe(':bob%yahoo!crosstalk@gateway PRIVMSG alice :bold\r\n');
    expect(html.events).toMatchObject([{ type: 'feature-loss', lost: ['im.html'] }]);
  });

  it('a buddy request is a notice saying how to answer', () => {
    const s = verified();
    const out = s.deliver({ kind: 'buddy-request', from: bob, to: alice, message: 'add me\r\nplease' });
    expect(text(out.toClient)).toBe(
      ':bob%yahoo!crosstalk@gateway NOTICE alice :wants to add you as a buddy (answer with /ctcp bob%yahoo ACCEPT or /ctcp bob%yahoo REFUSE): add me please\r\n',
    );
  });

  it('presence: online is MONITOR’s 730, away an away-notify AWAY, and coming back unsets it first', () => {
    const s = verified();
    const at = (status: 'online' | 'away' | 'offline', note?: string) =>
      text(
        s.deliver({ kind: 'presence', from: bob, to: alice, status, ...(note ? { text: note } : {}) })
          .toClient,
      );
    expect(at('online')).toBe(':irc.crosstalk.test 730 alice :bob%yahoo!crosstalk@gateway\r\n');
    expect(at('away', 'lunch')).toBe(':bob%yahoo!crosstalk@gateway AWAY :lunch\r\n');
    expect(at('online')).toBe(
      ':bob%yahoo!crosstalk@gateway AWAY\r\n:irc.crosstalk.test 730 alice :bob%yahoo!crosstalk@gateway\r\n',
    );
    expect(at('offline')).toBe(':irc.crosstalk.test 731 alice :bob%yahoo!crosstalk@gateway\r\n');
  });

  it('a foreign user whose name IRC cannot carry is refused with a typed error', () => {
    const s = verified();
    let error: unknown;
    try {
      s.deliver(im({ user: 'a,b', network: 'localhost' }, alice, 'hi'));
    } catch (e) {
      error = e;
    }
    expect(isCrossTalkError(error, 'ERR_UNSUPPORTED_EVENT')).toBe(true);
  });
});

describe('presence queries about foreign users', () => {
  it('ISON: foreign nicks are taken out, and the server’s 303 gets those online', () => {
    const s = verified();
    s.deliver({ kind: 'presence', from: bob, to: alice, status: 'away', text: 'lunch' });
    const asked = client(s, 'ISON dave bob%yahoo carol%localhost\r\n');
    expect(text(asked.toServer)).toBe('ISON :dave\r\n');
    const answer = server(s, ':irc.crosstalk.test 303 alice :dave\r\n');
    expect(text(answer.toClient)).toBe(':irc.crosstalk.test 303 alice :dave bob%yahoo\r\n');
    const local = client(s, 'ISON carol%localhost bob%yahoo\r\n');
    expect(local.toServer).toEqual([]);
    expect(text(local.toClient)).toBe(':irc.crosstalk.test 303 alice :bob%yahoo\r\n');
  });

  it('an ISON the server answers late still gets its own reply: replies are matched in order', () => {
    const s = codec.openSession(context());
    client(s, 'NICK alice\r\nUSER alice 0 * :Alice\r\nISON dave\r\n'); // before the login is verified
    server(s, WELCOME);
    s.deliver({ kind: 'presence', from: bob, to: alice, status: 'online' });
    client(s, 'ISON dave bob%yahoo\r\n');
    expect(text(server(s, ':irc.crosstalk.test 303 alice :dave\r\n').toClient)).toBe(
      ':irc.crosstalk.test 303 alice :dave\r\n',
    );
    expect(text(server(s, ':irc.crosstalk.test 303 alice :\r\n').toClient)).toBe(
      ':irc.crosstalk.test 303 alice :bob%yahoo\r\n',
    );
  });

  it('WHOIS of a foreign user: who and away, or no such nick when offline', () => {
    const s = verified();
    s.deliver({ kind: 'presence', from: bob, to: alice, status: 'away', text: 'lunch' });
    const whois = client(s, 'WHOIS bob%yahoo\r\n');
    expect(whois.toServer).toEqual([]);
    expect(text(whois.toClient)).toBe(
      ':irc.crosstalk.test 311 alice bob%yahoo crosstalk gateway * :bob@yahoo\r\n' +
        ':irc.crosstalk.test 301 alice bob%yahoo :lunch\r\n' +
        ':irc.crosstalk.test 318 alice bob%yahoo :End of WHOIS list\r\n',
    );
    expect(text(client(s, 'WHOIS carol%localhost\r\n').toClient)).toBe(
      ':irc.crosstalk.test 401 alice carol%localhost :No such nick/channel\r\n' +
        ':irc.crosstalk.test 318 alice carol%localhost :End of WHOIS list\r\n',
    );
  });
});

describe('bytes', () => {
  it('a UTF-8 character split across chunks, and a line in Latin-1, pass unchanged and are read', () => {
    const s = verified();
    const line = utf8(':dave!d@h PRIVMSG alice :Grüße 🎉\r\n');
    const pieces = [line.subarray(0, 30), line.subarray(30, 31), line.subarray(31)]; // inside the 🎉
    const written = pieces.flatMap((p) => s.fromServer(p).toClient);
    expect(Buffer.concat(written)).toEqual(Buffer.from(line));
    const latin = Uint8Array.from([...Buffer.from('PRIVMSG bob%yahoo :gr'), 0xfc, 0x0d, 0x0a]); // ü in Latin-1
    expect(outbound(s.fromClient(latin))).toMatchObject([{ kind: 'im', text: 'grü' }]);
    expect(codec.frames.encode(codec.frames.decode(latin, 'client'))).toEqual(latin);
  });

  it('sniffs a client’s first command, and a server that greets first', () => {
    expect(codec.sniff(utf8('CAP LS 302\r\n'), 'client')).toBe('yes');
    expect(codec.sniff(utf8('NI'), 'client')).toBe('more');
    expect(codec.sniff(utf8(':irc.example.net NOTICE * :*** Looking up'), 'server')).toBe('yes');
    expect(codec.sniff(utf8(':irc.exa'), 'server')).toBe('more');
    expect(codec.sniff(utf8('VER 1 MSNP8 CVR0\r\n'), 'client')).toBe('no');
  });
});
