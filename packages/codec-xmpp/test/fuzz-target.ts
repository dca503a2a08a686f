import type { FuzzOptions } from '@crosstalk/compliance/fuzz';
import { readTranscript, sessionFromCapture, sessionFromTranscript } from '@crosstalk/compliance/fuzz';
import { utf8 } from '@crosstalk/core';
import { xmpp } from '../src/index.js';
import { captureRuns, jabberStreams } from './capture.js';
import { HANDWRITTEN_CLIENT, HANDWRITTEN_SERVER } from './goldens.js';

/**
 * What `npm run fuzz` and test/fuzz.test.ts fuzz XMPP with: the session recorded against prosody
 * (PLAIN login, bind, roster, messages: verified), the Pidgin/ejabberd capture's streams (its
 * holes left out), and as extra streams the capture's hole-free runs and the hand-written streams
 * (CDATA, comments, prefixes, keepalives). `pcap: false` leaves the capture out (reading it takes
 * tshark a few seconds: the short run in `npm test` does without).
 */
export function xmppFuzzTarget(options: { pcap?: boolean } = {}): Omit<FuzzOptions, 'inputs' | 'seed'> {
  const pcap = options.pcap ?? true;
  return {
    codec: xmpp(),
    sessions: [
      sessionFromTranscript(
        'prosody',
        readTranscript(new URL('./fixtures/prosody-xmppjs.jsonl', import.meta.url).pathname),
      ),
      ...(pcap ? jabberStreams().map((s) => sessionFromCapture(`jabber capture stream ${s.stream}`, s)) : []),
    ],
    streams: [
      ...(pcap ? captureRuns().map((r) => ({ name: r.name, direction: r.direction, bytes: r.bytes })) : []),
      { name: 'hand-written client stream', direction: 'client', bytes: utf8(HANDWRITTEN_CLIENT) },
      { name: 'hand-written server stream', direction: 'server', bytes: utf8(HANDWRITTEN_SERVER) },
    ],
  };
}
