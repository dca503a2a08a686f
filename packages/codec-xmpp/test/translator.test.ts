import { arbEvent } from '@crosstalk/compliance';
import { type CanonicalEvent, eventFromJson, eventToJson, utf8, validateEvent } from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createXmlParser, type XmppFrame, xmpp } from '../src/index.js';
import { xmlElement } from './xml-arbitraries.js';

const codec = xmpp();
const NOW = 1_700_000_000_000;
const S_HEADER =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' version='1.0'>";
const BIND =
  "<iq type='result' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/desk</jid></bind></iq>";

/** A translator that has seen alice's login, reading `stanzas` from `direction`. */
function read(direction: 'client' | 'server', ...stanzas: string[]): unknown[] {
  const translator = codec.createTranslator({ now: () => NOW, newId: () => 'new' });
  const feed = (d: 'client' | 'server', s: string) => {
    const out: CanonicalEvent[] = [];
    for (const raw of codec.createFramer(d).push(utf8(s)))
      out.push(...translator.toEvents(codec.frames.decode(raw, d), d));
    return out;
  };
  feed('server', S_HEADER + BIND);
  return stanzas.flatMap((s) => feed(direction, s)).map(eventToJson);
}

describe('XmppTranslator', () => {
  it('learns the user from the bind result and fills in the sender of client stanzas', () => {
    const translator = codec.createTranslator();
    expect(translator.self).toBeUndefined();
    for (const raw of codec.createFramer('server').push(utf8(S_HEADER + BIND))) {
      translator.toEvents(codec.frames.decode(raw, 'server'), 'server');
    }
    expect(translator.self).toEqual({ user: 'alice', network: 'localhost' });
    expect(translator.selfJid).toBe('alice@localhost/desk');
    expect(translator.domain).toBe('localhost');
    expect(translator.isForeign({ user: 'bob', network: 'yahoo' })).toBe(true);
    expect(translator.isForeign({ user: 'carol', network: 'localhost' })).toBe(false);
    expect(
      read('client', "<message to='carol@localhost' type='chat' id='1'><body>hi</body></message>"),
    ).toEqual([
      { kind: 'im', id: '1', from: 'alice@localhost', to: 'carol@localhost', text: 'hi', sentAt: NOW },
    ]);
  });

  it('reads XHTML-IM as written, XEP-0203 and legacy XEP-0091 delays, and generates missing ids', () => {
    expect(
      read(
        'server',
        "<message from='bob@localhost/x' to='alice@localhost/desk'><body>hi</body>" +
          "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>hi <em>you</em></p></body></html>" +
          "<delay xmlns='urn:xmpp:delay' stamp='2024-01-02T03:04:05Z'/></message>",
        "<message from='bob@localhost' type='chat' id='2'><body>old</body><x xmlns='jabber:x:delay' stamp='20240102T03:04:05'/></message>",
      ),
    ).toEqual([
      {
        kind: 'im',
        id: 'new',
        from: 'bob@localhost',
        to: 'alice@localhost',
        text: 'hi',
        html: '<p>hi <em>you</em></p>',
        sentAt: Date.UTC(2024, 0, 2, 3, 4, 5),
      },
      {
        kind: 'im',
        id: '2',
        from: 'bob@localhost',
        to: 'alice@localhost',
        text: 'old',
        sentAt: Date.UTC(2024, 0, 2, 3, 4, 5),
      },
    ]);
  });

  it('maps presence: show, status, idle (XEP-0319 and XEP-0012), unavailable; directed only when aimed elsewhere', () => {
    expect(
      read(
        'server',
        "<presence from='bob@localhost/x' to='alice@localhost/desk'><show>xa</show><status>gone fishing</status><idle xmlns='urn:xmpp:idle:1' since='2024-01-02T03:04:05.500Z'/></presence>",
        "<presence from='bob@localhost/x'><show>chat</show><query xmlns='jabber:iq:last' seconds='60'/></presence>",
        "<presence from='bob@localhost/x' type='unavailable'/>",
        "<presence from='bob@localhost/x'><show>dnd</show><priority>-1</priority></presence>",
      ),
    ).toEqual([
      {
        kind: 'presence',
        from: 'bob@localhost',
        status: 'idle',
        text: 'gone fishing',
        idleSince: Date.UTC(2024, 0, 2, 3, 4, 5, 500),
      },
      { kind: 'presence', from: 'bob@localhost', status: 'online', idleSince: NOW - 60_000 },
      { kind: 'presence', from: 'bob@localhost', status: 'offline' },
      { kind: 'presence', from: 'bob@localhost', status: 'busy' },
    ]);
    expect(read('client', "<presence to='bob@localhost'><show>away</show></presence>")).toEqual([
      { kind: 'presence', from: 'alice@localhost', to: 'bob@localhost', status: 'away' },
    ]);
  });

  it('gives nothing for what has no canonical meaning', () => {
    expect(
      read(
        'server',
        "<message from='room@conference.localhost/bob' type='groupchat'><body>hi all</body></message>",
        "<message from='localhost' type='headline'><body>server news</body></message>",
        "<message from='bob@localhost' type='error'><body>x</body></message>",
        "<presence from='room@conference.localhost/bob'><x xmlns='http://jabber.org/protocol/muc#user'/></presence>",
        "<presence from='bob@localhost' type='unsubscribe'/>",
        "<presence from='bob@localhost' type='probe'/>",
        "<iq type='set' from='bob@localhost' id='j'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'/></iq>",
        "<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>",
        "<message from='cs-xmpp.lan'><body>from a server</body></message>",
      ),
    ).toEqual([]);
  });

  it('drops natively what core would refuse, and treats an empty id as none', () => {
    expect(
      read(
        'server',
        `<message from='bob@localhost' type='chat'><body>${'x'.repeat(70_000)}</body></message>`,
        `<message from='bob@localhost' type='chat' id='${'i'.repeat(300)}'><body>long id</body></message>`,
        "<message from='bob@localhost' type='chat' id=''><body>empty id</body></message>",
        "<presence from='bob@localhost' to='alice@localhost' type='subscribe' id=''/>",
      ),
    ).toEqual([
      { kind: 'im', id: 'new', from: 'bob@localhost', to: 'alice@localhost', text: 'empty id', sentAt: NOW },
      { kind: 'buddy-request', from: 'bob@localhost', to: 'alice@localhost' },
    ]);
  });

  it('reads roster pushes (removals have no canonical item) and native file offers', () => {
    expect(
      read(
        'server',
        "<iq type='set' id='p'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/><item jid='a\\40hotmail.com@msn' name='' subscription='both'/></query></iq>",
        "<message from='bob@localhost' id='f1'><file-sharing xmlns='urn:xmpp:sfs:0'><file xmlns='urn:xmpp:file:metadata:0'><name>cat.png</name><size>1024</size><media-type>image/png</media-type><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=</hash></file><sources/></file-sharing></message>",
      ),
    ).toEqual([
      {
        kind: 'roster',
        owner: 'alice@localhost',
        items: [{ address: 'a@hotmail.com@msn', groups: [], subscription: 'both', pending: false }],
      },
      {
        kind: 'file-offer',
        id: 'f1',
        from: 'bob@localhost',
        to: 'alice@localhost',
        name: 'cat.png',
        size: 1024,
        mediaType: 'image/png',
        sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      },
    ]);
  });

  it('writes events as the server delivers them (to the full JID) or as the client sends them (no from)', () => {
    const translator = codec.createTranslator({ now: () => NOW, newId: () => 'new' });
    for (const raw of codec.createFramer('server').push(utf8(S_HEADER + BIND))) {
      translator.toEvents(codec.frames.decode(raw, 'server'), 'server');
    }
    const text = (frames: XmppFrame[]) =>
      frames.map((f) => Buffer.from(codec.frames.encode(f)).toString()).join('');
    const im = eventFromJson({
      kind: 'im',
      id: 'm',
      from: 'bob@yahoo',
      to: 'alice@localhost',
      text: 'hi',
      sentAt: NOW,
    });
    expect(text(translator.fromEvent(im, 'server'))).toBe(
      "<message from='bob@yahoo' to='alice@localhost/desk' type='chat' id='m'><body>hi</body></message>",
    );
    const back = eventFromJson({
      kind: 'im',
      id: 'n',
      from: 'alice@localhost',
      to: 'bob@yahoo',
      text: 'yo',
      sentAt: NOW,
    });
    expect(text(translator.fromEvent(back, 'client'))).toBe(
      "<message to='bob@yahoo' type='chat' id='n'><body>yo</body></message>",
    );
    const roster = eventFromJson({
      kind: 'roster',
      owner: 'alice@localhost',
      items: [{ address: 'bob@yahoo', name: 'Bob', groups: ['Y'], subscription: 'both', pending: true }],
    });
    expect(text(translator.fromEvent(roster, 'client'))).toBe(
      "<iq type='set' id='new'><query xmlns='jabber:iq:roster'><item jid='bob@yahoo' name='Bob'><group>Y</group></item></query></iq>",
    );
  });

  it('emits only events that core validates, whatever the stanza', () => {
    const translator = codec.createTranslator({ now: () => NOW, newId: () => 'new' });
    for (const raw of codec.createFramer('server').push(utf8(S_HEADER + BIND))) {
      translator.toEvents(codec.frames.decode(raw, 'server'), 'server');
    }
    const parser = createXmlParser();
    // Random XML named like stanzas, and real stanzas written from random events.
    const stanzas = fc.oneof(
      xmlElement(false).map((s) => [parser.parseElement(s)]),
      arbEvent.map((e) => translator.build(e, 'server').stanzas),
    );
    fc.assert(
      fc.property(stanzas, fc.constantFrom('client' as const, 'server' as const), (els, direction) => {
        for (const el of els) {
          for (const event of translator.read(el, direction)) expect(validateEvent(event)).toEqual(event);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
