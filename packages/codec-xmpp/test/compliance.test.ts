import { type CodecGolden, codecSuite, goldensFromTranscript, readTranscript } from '@crosstalk/compliance';
import { utf8 } from '@crosstalk/core';
import { xmpp } from '../src/index.js';
import { captureRuns } from './capture.js';
import { HANDWRITTEN_CLIENT, HANDWRITTEN_SERVER } from './goldens.js';

// Goldens: every hole-free run of the real capture, both directions; a session recorded against
// prosody with @xmpp/client and our scripted client (test/fixtures/record-session.ts); and
// hand-written streams that reach what neither holds (CDATA, comments, prefixes, whitespace
// keepalives, a stream-level comment).
const goldens: CodecGolden[] = [
  ...captureRuns().map((r) => ({ name: r.name, direction: r.direction, bytes: r.bytes })),
  ...goldensFromTranscript(
    'prosody',
    readTranscript(new URL('./fixtures/prosody-xmppjs.jsonl', import.meta.url).pathname),
  ),
  { name: 'hand-written client stream', direction: 'client', bytes: utf8(HANDWRITTEN_CLIENT) },
  { name: 'hand-written server stream', direction: 'server', bytes: utf8(HANDWRITTEN_SERVER) },
];

codecSuite({
  codec: xmpp(),
  goldens,
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
