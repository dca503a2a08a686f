import {
  type CodecGolden,
  codecSuite,
  goldensFromTranscript,
  type LoginScript,
  type RefusedLogin,
  readTranscript,
} from '@crosstalk/compliance';
import { utf8 } from '@crosstalk/core';
import { xmpp } from '../src/index.js';
import { captureRuns } from './capture.js';
import { HANDWRITTEN_CLIENT, HANDWRITTEN_SERVER } from './goldens.js';

// Goldens: every hole-free run of the real capture, both directions; a session recorded against
// prosody with @xmpp/client and our scripted client (test/fixtures/record-session.ts); and
// hand-written streams that reach what neither holds (CDATA, comments, prefixes, whitespace
// keepalives, a stream-level comment).
const prosody = readTranscript(new URL('./fixtures/prosody-xmppjs.jsonl', import.meta.url).pathname);
const goldens: CodecGolden[] = [
  ...captureRuns().map((r) => ({ name: r.name, direction: r.direction, bytes: r.bytes })),
  ...goldensFromTranscript('prosody', prosody),
  { name: 'hand-written client stream', direction: 'client', bytes: utf8(HANDWRITTEN_CLIENT) },
  { name: 'hand-written server stream', direction: 'server', bytes: utf8(HANDWRITTEN_SERVER) },
];

/**
 * The recorded logins for the session checks: one connection each, up to (not including) the
 * stream's end. RFC 6120 §7: the bind result confirms the login (SASL success alone does not).
 */
function login(user: string, client: string): LoginScript {
  const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
  const writes = prosody.filter((e) => e.conn === user && !text(e.bytes).startsWith('</stream:stream>'));
  const confirmedAt = writes.findIndex(
    (e) => e.direction === 'server' && /<iq type='result'[^>]*><bind /.test(text(e.bytes)),
  );
  return { name: `prosody: ${user} (${client})`, writes, user: { user, network: 'localhost' }, confirmedAt };
}

/** Alice's stream with SASL failure for success (RFC 6120 §6.4.5 not-authorized); the client then closes. */
function refused(): RefusedLogin {
  const alice = login('alice', '@xmpp/client, PLAIN').writes;
  const at = alice.findIndex(
    (e) => e.direction === 'server' && Buffer.from(e.bytes).toString().startsWith('<success'),
  );
  return {
    name: 'prosody: alice, not authorized',
    writes: [
      ...alice.slice(0, at),
      {
        direction: 'server',
        bytes: utf8("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"),
      },
      { direction: 'client', bytes: utf8('</stream:stream>') },
      { direction: 'server', bytes: utf8('</stream:stream>') },
    ],
  };
}

codecSuite({
  codec: xmpp(),
  goldens,
  logins: [login('alice', '@xmpp/client, PLAIN'), login('carol', 'ScriptedXmppClient')],
  refusedLogins: [refused()],
  sniffYes: [
    {
      name: 'Pidgin stream header',
      direction: 'client',
      bytes: utf8(
        "<?xml version='1.0' ?><stream:stream to='cs-xmpp.lan' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
      ),
    },
    {
      name: 'xmpp.js stream header',
      direction: 'client',
      bytes: utf8(
        '<?xml version=\'1.0\'?><stream:stream version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="localhost">',
      ),
    },
    {
      name: 'header without declaration',
      direction: 'client',
      bytes: utf8("<stream:stream to='localhost'>"),
    },
  ],
  sniffNo: [
    { name: 'YMSG', direction: 'client', bytes: utf8('YMSG\u0000\u0010\u0000\u0000') },
    { name: 'MSNP', direction: 'client', bytes: utf8('VER 1 MSNP8 CVR0\r\n') },
    { name: 'OSCAR FLAP', direction: 'server', bytes: Uint8Array.of(0x2a, 1, 0, 1, 0, 4, 0, 0, 0, 1) },
    { name: 'other XML', direction: 'client', bytes: utf8('<?xml version="1.0"?><html>') },
  ],
  garbageRuns: 200,
});
