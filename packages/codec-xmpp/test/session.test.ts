import {
  type Address,
  type CanonicalEvent,
  eventFromJson,
  MemoryCookieTable,
  type ProxySession,
  type RosterItem,
  type SessionContext,
  type SessionEvent,
  utf8,
} from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { xmpp } from '../src/index.js';
import { errorCode } from './helpers.js';

const ALICE: Address = { user: 'alice', network: 'localhost' };
const BOB_YAHOO: Address = { user: 'bob', network: 'yahoo' };

const C_HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
const S_HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='s1' version='1.0'>";
const PLAIN = Buffer.from('\u0000alice\u0000secret').toString('base64');

interface Step {
  toServer: string;
  toClient: string;
  events: SessionEvent[];
}

function context(foreign: RosterItem[] = []): SessionContext {
  let n = 0;
  return {
    connectionId: 'c1',
    target: { host: '127.0.0.1', port: 5222 },
    isForeign: (a) => ['aol', 'icq', 'msn', 'yahoo'].includes(a.network),
    foreignRoster: () => foreign,
    cookies: new MemoryCookieTable(),
    endpoints: {
      allocate: () => {
        throw new Error('unused');
      },
      release: () => {},
    },
    now: () => 1_700_000_000_000,
    newId: () => `inj${++n}`,
  };
}

class Drive {
  readonly session: ProxySession;
  constructor(foreign: RosterItem[] = []) {
    this.session = xmpp().openSession(context(foreign));
  }
  #step(out: { toServer: Uint8Array[]; toClient: Uint8Array[]; events: SessionEvent[] }): Step {
    const s = (parts: Uint8Array[]) => parts.map((p) => Buffer.from(p).toString('utf8')).join('');
    return { toServer: s(out.toServer), toClient: s(out.toClient), events: out.events };
  }
  client(s: string | Uint8Array): Step {
    return this.#step(this.session.fromClient(typeof s === 'string' ? utf8(s) : s));
  }
  server(s: string | Uint8Array): Step {
    return this.#step(this.session.fromServer(typeof s === 'string' ? utf8(s) : s));
  }
  deliver(event: CanonicalEvent): Step {
    return this.#step(this.session.deliver(event));
  }
  /** PLAIN login, restart, bind: returns the events seen. */
  login(): SessionEvent[] {
    const events: SessionEvent[] = [];
    const both = (s: Step) => events.push(...s.events);
    both(this.client(C_HEADER));
    both(
      this.server(
        `${S_HEADER}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
      ),
    );
    both(this.client(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${PLAIN}</auth>`));
    both(this.server("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"));
    both(this.client(C_HEADER));
    both(
      this.server(
        `${S_HEADER}<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`,
      ),
    );
    both(
      this.client(
        "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk</resource></bind></iq>",
      ),
    );
    both(
      this.server(
        "<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/desk</jid></bind></iq>",
      ),
    );
    return events;
  }
}

const outbound = (s: Step) =>
  s.events.filter((e) => e.type === 'outbound').map((e) => (e as { event: unknown }).event);

describe('XMPP proxy session', () => {
  it('reports identified from SASL PLAIN and verified once SASL succeeded and bind returned a JID', () => {
    const d = new Drive();
    expect(d.session.state).toBe('connecting');
    const events = d.login();
    expect(events).toEqual([
      { type: 'identified', address: ALICE },
      { type: 'verified', address: ALICE },
    ]);
    expect(d.session.state).toBe('verified');
    expect(d.session.user).toEqual(ALICE);
  });

  it('is a pure relay before verification: withholds nothing, injects nothing', () => {
    const d = new Drive();
    d.client(C_HEADER);
    const early = "<message to='bob@yahoo' type='chat'><body>too early</body></message>";
    expect(d.client(early)).toEqual({ toServer: early, toClient: '', events: [] });
    expect(
      errorCode(() =>
        d.session.deliver(
          eventFromJson({ kind: 'typing', from: 'bob@yahoo', to: 'alice@localhost', state: 'composing' }),
        ),
      ),
    ).toBe('ERR_SESSION_STATE');
    expect(
      d.session.affinity(
        eventFromJson({ kind: 'typing', from: 'bob@yahoo', to: 'alice@localhost', state: 'composing' }),
      ),
    ).toBe(0);
  });

  it('does not verify on a bind result without SASL success', () => {
    const d = new Drive();
    d.client(C_HEADER);
    d.server(S_HEADER);
    d.client("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    const s = d.server(
      "<iq type='result' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>mallory@localhost/x</jid></bind></iq>",
    );
    expect(s.events).toEqual([]);
    expect(d.session.state).toBe('connecting');
  });

  it('withholds stanzas to foreign users and reports them as outbound; local traffic passes byte-identical', () => {
    const d = new Drive();
    d.login();
    const local = "<message to='carol@localhost' type='chat' id='1'><body>hi carol</body></message>";
    expect(d.client(local)).toEqual({ toServer: local, toClient: '', events: [] });
    const im = d.client(
      "<message to='bob@yahoo' type='chat' id='m2'><active xmlns='http://jabber.org/protocol/chatstates'/><body>hi bob</body></message>",
    );
    expect(im.toServer).toBe('');
    expect(outbound(im)).toEqual([
      { kind: 'im', id: 'm2', from: ALICE, to: BOB_YAHOO, text: 'hi bob', sentAt: 1_700_000_000_000 },
    ]);
    const typing = d.client(
      "<message to='bob@yahoo/pc' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
    );
    expect(outbound(typing)).toEqual([{ kind: 'typing', from: ALICE, to: BOB_YAHOO, state: 'composing' }]);
    const msn = d.client("<message to='a\\40hotmail.com@msn'><body>hello msn</body></message>");
    expect(outbound(msn)).toMatchObject([
      { kind: 'im', to: { user: 'a@hotmail.com', network: 'msn' }, text: 'hello msn' },
    ]);
  });

  it('turns subscription presence to foreign users into buddy-request / buddy-response', () => {
    const d = new Drive();
    d.login();
    const sub = d.client(
      "<presence to='bob@yahoo' type='subscribe'><nick xmlns='http://jabber.org/protocol/nick'>Alice</nick></presence>",
    );
    expect(sub.toServer).toBe('');
    expect(outbound(sub)).toEqual([{ kind: 'buddy-request', from: ALICE, to: BOB_YAHOO, name: 'Alice' }]);
    expect(outbound(d.client("<presence to='bob@yahoo' type='subscribed'/>"))).toEqual([
      { kind: 'buddy-response', from: ALICE, to: BOB_YAHOO, accepted: true },
    ]);
    expect(outbound(d.client("<presence to='bob@yahoo' type='unsubscribed'/>"))).toEqual([
      { kind: 'buddy-response', from: ALICE, to: BOB_YAHOO, accepted: false },
    ]);
    const unsub = d.client("<presence to='bob@yahoo' type='unsubscribe'/>");
    expect(unsub).toEqual({ toServer: '', toClient: '', events: [] });
    expect(outbound(d.client("<presence to='bob@yahoo'><show>away</show></presence>"))).toEqual([
      { kind: 'presence', from: ALICE, to: BOB_YAHOO, status: 'away' },
    ]);
  });

  it('pushes the roster item as the server would when a subscription with a foreign buddy changes', () => {
    const known: RosterItem = {
      address: BOB_YAHOO,
      name: 'Bob',
      groups: ['Yahoo'],
      subscription: 'none',
      pending: false,
    };
    const d = new Drive([known]);
    d.login();
    const push = (id: string, item: string) =>
      `<iq type='set' id='${id}' to='alice@localhost/desk'><query xmlns='jabber:iq:roster'>${item}</query></iq>`;
    // RFC 6121 §3.1.2: after the user's request, ask='subscribe'.
    expect(d.client("<presence to='bob@yahoo' type='subscribe'/>").toClient).toBe(
      push(
        'inj1',
        "<item jid='bob@yahoo' name='Bob' subscription='none' ask='subscribe'><group>Yahoo</group></item>",
      ),
    );
    // §3.1.6: the contact's approval arrives with the changed item (mutual, as the gateway records it).
    const approval = d.deliver(
      eventFromJson({ kind: 'buddy-response', from: 'bob@yahoo', to: 'alice@localhost', accepted: true }),
    );
    expect(approval.toClient).toBe(
      push('inj2', "<item jid='bob@yahoo' name='Bob' subscription='both'><group>Yahoo</group></item>") +
        "<presence from='bob@yahoo' to='alice@localhost/desk' type='subscribed'/>",
    );
    // The client's answers to our pushes never reach the server.
    expect(d.client("<iq type='result' id='inj1'/><iq type='result' id='inj2'/>").toServer).toBe('');
    // §3.1.5: the user approves someone new: the item appears.
    const carol = d.client("<presence to='carol@aol' type='subscribed'/>");
    expect(carol.toServer).toBe('');
    expect(carol.toClient).toBe(push('inj3', "<item jid='carol@aol' subscription='both'/>"));
    // §3.2: a refusal of someone not on the list changes nothing on it.
    expect(d.client("<presence to='dave@aol' type='unsubscribed'/>").toClient).toBe('');
    expect(d.client("<presence to='bob@yahoo' type='unsubscribed'/>").toClient).toBe(
      push('inj4', "<item jid='bob@yahoo' name='Bob' subscription='none'><group>Yahoo</group></item>"),
    );
  });

  it("passes the user's own presence broadcast and reports it as self", () => {
    const d = new Drive();
    d.login();
    const p = '<presence><show>dnd</show><status>busy busy</status></presence>';
    const s = d.client(p);
    expect(s.toServer).toBe(p);
    expect(s.events).toEqual([
      { type: 'self', event: { kind: 'presence', from: ALICE, status: 'busy', text: 'busy busy' } },
    ]);
  });

  it('merges foreign buddies into the roster result (XEP-0106 JIDs) and reports roster', () => {
    const foreign: RosterItem[] = [
      { address: BOB_YAHOO, name: 'Bob', groups: ['Yahoo'], subscription: 'both', pending: false },
      { address: { user: 'a@hotmail.com', network: 'msn' }, groups: [], subscription: 'none', pending: true },
    ];
    const d = new Drive(foreign);
    d.login();
    d.client("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
    const result = d.server(
      "<iq type='result' id='r1' to='alice@localhost/desk'><query xmlns='jabber:iq:roster' ver='7'><item jid='carol@localhost' subscription='both'/></query></iq>",
    );
    expect(result.toClient).toBe(
      "<iq type='result' id='r1' to='alice@localhost/desk'><query xmlns='jabber:iq:roster' ver='7'><item jid='carol@localhost' subscription='both'/>" +
        "<item jid='bob@yahoo' name='Bob' subscription='both'><group>Yahoo</group></item>" +
        "<item jid='a\\40hotmail.com@msn' subscription='none' ask='subscribe'/></query></iq>",
    );
    expect(result.events).toEqual([
      {
        type: 'roster',
        owner: ALICE,
        items: [
          {
            address: { user: 'carol', network: 'localhost' },
            groups: [],
            subscription: 'both',
            pending: false,
          },
        ],
        merged: foreign,
      },
    ]);
  });

  it('merges into an empty <query/>, and leaves a roster with nothing to merge byte-identical', () => {
    const d = new Drive([{ address: BOB_YAHOO, groups: [], subscription: 'to', pending: false }]);
    d.login();
    d.client("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
    expect(d.server("<iq type='result' id='r1'><query xmlns='jabber:iq:roster'/></iq>").toClient).toBe(
      "<iq type='result' id='r1'><query xmlns='jabber:iq:roster'><item jid='bob@yahoo' subscription='to'/></query></iq>",
    );
    const plain = new Drive();
    plain.login();
    plain.client("<iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>");
    const raw =
      "<iq  type=\"result\" id='r2'><query xmlns='jabber:iq:roster'><item jid='x@localhost'/></query></iq>";
    expect(plain.server(raw).toClient).toBe(raw);
  });

  it('after an empty roster result (RFC 6121 §2.6.3, versioning) pushes the foreign items', () => {
    const d = new Drive([{ address: BOB_YAHOO, groups: [], subscription: 'both', pending: false }]);
    d.login();
    d.client("<iq type='get' id='r1'><query xmlns='jabber:iq:roster' ver='7'/></iq>");
    const s = d.server("<iq type='result' id='r1'/>");
    expect(s.toClient).toBe(
      "<iq type='result' id='r1'/><iq type='set' id='inj1' to='alice@localhost/desk'><query xmlns='jabber:iq:roster'><item jid='bob@yahoo' subscription='both'/></query></iq>",
    );
    // The client's answer to our push is ours, not the server's.
    expect(d.client("<iq type='result' id='inj1'/>")).toEqual({ toServer: '', toClient: '', events: [] });
  });

  it('answers roster edits of foreign items locally: result, push, outbound roster', () => {
    const d = new Drive([{ address: BOB_YAHOO, groups: [], subscription: 'both', pending: false }]);
    d.login();
    const add = d.client(
      "<iq type='set' id='e1'><query xmlns='jabber:iq:roster'><item jid='bob@yahoo' name='Bobby'><group>Y</group></item></query></iq>",
    );
    expect(add.toServer).toBe('');
    expect(add.toClient).toBe(
      "<iq type='result' id='e1' to='alice@localhost/desk'/>" +
        "<iq type='set' id='inj1' to='alice@localhost/desk'><query xmlns='jabber:iq:roster'><item jid='bob@yahoo' name='Bobby' subscription='both'><group>Y</group></item></query></iq>",
    );
    expect(outbound(add)).toEqual([
      {
        kind: 'roster',
        owner: ALICE,
        items: [{ address: BOB_YAHOO, name: 'Bobby', groups: ['Y'], subscription: 'both', pending: false }],
      },
    ]);
    expect(d.client("<iq type='result' id='inj1'/>").toServer).toBe('');
    const remove = d.client(
      "<iq type='set' id='e2'><query xmlns='jabber:iq:roster'><item jid='bob@yahoo' subscription='remove'/></query></iq>",
    );
    expect(remove.toClient).toContain("<item jid='bob@yahoo' subscription='remove'/>");
    const addressed = d.client(
      "<iq type='set' id='e4' to='alice@localhost'><query xmlns='jabber:iq:roster'><item jid='bob@yahoo'/></query></iq>",
    );
    expect(addressed.toServer).toBe('');
    expect(outbound(addressed)).toHaveLength(1);
    const local =
      "<iq type='set' id='e3'><query xmlns='jabber:iq:roster'><item jid='carol@localhost'/></query></iq>";
    expect(d.client(local).toServer).toBe(local);
  });

  it('answers iq requests to foreign users so the client does not wait', () => {
    const d = new Drive();
    d.login();
    const vcard = d.client("<iq type='get' id='v1' to='bob@yahoo'><vCard xmlns='vcard-temp'/></iq>");
    expect(vcard.toServer).toBe('');
    expect(vcard.toClient).toBe(
      "<iq type='error' id='v1' from='bob@yahoo' to='alice@localhost/desk'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    );
    expect(d.client("<iq type='result' id='x' to='bob@yahoo'/>")).toEqual({
      toServer: '',
      toClient: '',
      events: [],
    });
  });

  it('delivers events as the server would send them, to the full JID', () => {
    const d = new Drive();
    d.login();
    const im = eventFromJson({
      kind: 'im',
      id: 'g1',
      from: 'bob@yahoo',
      to: 'alice@localhost',
      text: 'hi from yahoo',
      sentAt: 1_700_000_000_000,
    });
    expect(d.session.affinity(im)).toBe(1);
    expect(d.deliver(im)).toEqual({
      toServer: '',
      toClient:
        "<message from='bob@yahoo' to='alice@localhost/desk' type='chat' id='g1'><body>hi from yahoo</body></message>",
      events: [],
    });
    const old = eventFromJson({
      kind: 'im',
      id: 'g2',
      from: 'bob@yahoo',
      to: 'alice@localhost',
      text: 'old',
      sentAt: 1_600_000_000_000,
    });
    expect(d.deliver(old).toClient).toContain(
      "<delay xmlns='urn:xmpp:delay' stamp='2020-09-13T12:26:40.000Z'/>",
    );
    const invisible = eventFromJson({
      kind: 'presence',
      from: 'bob@yahoo',
      to: 'alice@localhost',
      status: 'invisible',
    });
    const p = d.deliver(invisible);
    expect(p.toClient).toBe("<presence from='bob@yahoo' to='alice@localhost/desk' type='unavailable'/>");
    expect(p.events).toEqual([{ type: 'feature-loss', event: invisible, lost: ['presence.invisible'] }]);
    const roster = eventFromJson({
      kind: 'roster',
      owner: 'alice@localhost',
      items: [{ address: 'bob@yahoo', groups: [], subscription: 'to', pending: false }],
    });
    expect(d.deliver(roster).toClient).toBe(
      "<iq to='alice@localhost/desk' type='set' id='inj1'><query xmlns='jabber:iq:roster'><item jid='bob@yahoo' subscription='to'/></query></iq>",
    );
    expect(d.client("<iq type='result' id='inj1'/>").toServer).toBe('');
    const subscribe = eventFromJson({
      kind: 'buddy-request',
      from: 'bob@yahoo',
      to: 'alice@localhost',
      message: 'hi?',
    });
    expect(d.deliver(subscribe).toClient).toBe(
      "<presence from='bob@yahoo' to='alice@localhost/desk' type='subscribe'><status>hi?</status></presence>",
    );
  });

  it('has affinity 1 only for its verified user', () => {
    const d = new Drive();
    d.login();
    const forAlice = eventFromJson({
      kind: 'typing',
      from: 'bob@yahoo',
      to: 'alice@localhost',
      state: 'paused',
    });
    const forCarol = eventFromJson({
      kind: 'typing',
      from: 'bob@yahoo',
      to: 'carol@localhost',
      state: 'paused',
    });
    expect(d.session.affinity(forAlice)).toBe(1);
    expect(d.session.affinity(forCarol)).toBe(0);
  });

  it('goes opaque after STARTTLS <proceed/> and relays raw bytes both ways', () => {
    const d = new Drive();
    d.client(C_HEADER);
    d.server(
      `${S_HEADER}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>`,
    );
    d.client("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    const tls = Uint8Array.of(0x16, 0x03, 0x03, 0x00, 0x02, 0xff, 0xfe);
    const proceed = Buffer.concat([Buffer.from("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"), tls]);
    const s = d.session.fromServer(proceed);
    expect(s.events).toEqual([{ type: 'opaque', reason: expect.stringContaining('STARTTLS') }]);
    expect(Buffer.concat(s.toClient)).toEqual(proceed);
    expect(d.session.state).toBe('opaque');
    expect(Buffer.concat(d.session.fromClient(tls).toServer)).toEqual(Buffer.from(tls));
    expect(Buffer.concat(d.session.fromServer(tls).toClient)).toEqual(Buffer.from(tls));
    expect(
      errorCode(() =>
        d.session.deliver(
          eventFromJson({ kind: 'typing', from: 'bob@yahoo', to: 'alice@localhost', state: 'paused' }),
        ),
      ),
    ).toBe('ERR_SESSION_STATE');
  });

  it('passes whitespace keepalives at once, and relays framed but malformed XML unchanged', () => {
    const d = new Drive();
    d.login();
    expect(d.client(' ').toServer).toBe(' ');
    const bad = '<message><body>x</bodyy></message>';
    expect(d.client(bad)).toEqual({
      toServer: bad,
      toClient: '',
      events: [
        {
          type: 'untranslated',
          direction: 'client',
          error: expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }),
        },
      ],
    });
  });

  it('ends with a closed event carrying the error when the stream cannot be framed', () => {
    const d = new Drive();
    d.login();
    const s = d.client('<presence/>garbage');
    expect(s.toServer).toBe('<presence/>');
    expect(s.events.at(-1)).toMatchObject({ type: 'closed', error: { code: 'ERR_MALFORMED_FRAME' } });
    expect(d.session.state).toBe('closed');
    expect(errorCode(() => d.client('<presence/>'))).toBe('ERR_STREAM_CLOSED');
    const e = new Drive();
    expect(errorCode(() => e.client('garbage'))).toBe('ERR_MALFORMED_FRAME');
  });

  it('close() reports closed once', () => {
    const d = new Drive();
    expect(d.session.close('client closed').events).toEqual([{ type: 'closed', reason: 'client closed' }]);
    expect(d.session.close('again').events).toEqual([]);
  });
});
