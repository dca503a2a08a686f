import {
  isCrossTalkError,
  MalformedFrameError,
  MemoryCookieTable,
  type ProxySession,
  type SessionContext,
  type SessionOutput,
  utf8,
} from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { xmpp } from '../src/index.js';

/**
 * The issue: "a translator failure on a frame from the server about a contact must not close the
 * connection of every user with that contact". XMPP stanzas that parse are read leniently, so the
 * failure is simulated where reading the server's roster asks the gateway for the user's foreign
 * buddies: `foreignRoster` throws, typed (a rule the gateway enforces) and untyped (a bug).
 */
function context(error: Error): SessionContext {
  let n = 0;
  return {
    connectionId: 'c1',
    target: { host: '127.0.0.1', port: 5222 },
    isForeign: (a) => ['aol', 'icq', 'msn', 'yahoo'].includes(a.network),
    foreignRoster: () => {
      throw error;
    },
    cookies: new MemoryCookieTable(),
    endpoints: { allocate: () => ({ host: '127.0.0.1', port: 1 }), release: () => {} },
    now: () => 1_700_000_000_000,
    newId: () => `inj${++n}`,
  };
}

const C_HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
const S_HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='s1' version='1.0'>";
const PLAIN = Buffer.from('\u0000alice\u0000secret').toString('base64');

function login(session: ProxySession): void {
  const c = (s: string) => session.fromClient(utf8(s));
  const s = (x: string) => session.fromServer(utf8(x));
  c(C_HEADER);
  s(
    `${S_HEADER}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
  );
  c(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${PLAIN}</auth>`);
  s("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
  c(C_HEADER);
  s(`${S_HEADER}<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`);
  c(
    "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk</resource></bind></iq>",
  );
  s(
    "<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/desk</jid></bind></iq>",
  );
}

const text = (parts: Uint8Array[]) => parts.map((p) => Buffer.from(p).toString('utf8')).join('');

describe('a server frame the XMPP session cannot translate', () => {
  it.each([
    ['typed', new MalformedFrameError('xmpp', 'cannot read this roster')],
    ['untyped', new TypeError('a bug')],
  ])(
    'goes to the client untouched with an untranslated event (%s failure), and the session goes on',
    (_kind, error) => {
      const session = xmpp().openSession(context(error));
      login(session);
      expect(session.state).toBe('verified');
      session.fromClient(utf8("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>"));
      const result =
        "<iq type='result' id='r1' to='alice@localhost/desk'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='both'/></query></iq>";
      const out: SessionOutput = session.fromServer(utf8(result));
      expect(text(out.toClient)).toBe(result);
      expect(out.events).toHaveLength(1);
      expect(out.events[0]).toMatchObject({ type: 'untranslated', direction: 'server' });
      expect(isCrossTalkError((out.events[0] as { error: unknown }).error)).toBe(true);
      expect(session.state).toBe('verified');
      const next = session.fromServer(
        utf8(
          "<message from='bob@localhost/x' to='alice@localhost/desk' type='chat'><body>hi</body></message>",
        ),
      );
      expect(next.events.map((e) => e.type)).toEqual(['inbound']);
    },
  );
});
