import { codecSuite, type LoginScript } from '@crosstalk/compliance';
import type { CanonicalEvent, Direction } from '@crosstalk/core';
import { decodePacket, YmsgService as S, ymsg } from '../src/index.js';
import { concat, openYmsgFrames, transcript, transcriptGoldens } from './helpers.js';

const transcriptGoldenStreams = transcriptGoldens();
const openymsg = openYmsgFrames();
const firstClientWrite = transcript('ymsg10_escargot').find((e) => e.direction === 'client')!;
const bever = transcript('ymsg10_escargot_bever').find((e) => e.direction === 'client')!;

/** Dave's connection on Escargot, to (not including) his LOGOFF; the LIST answering AUTHRESP confirms it. */
const dave = transcript('ymsg10_escargot').filter(
  (e) => e.conn === 'YMSG/dave' && decodePacket(e.bytes).service !== S.LOGOFF,
);
const login: LoginScript = {
  name: 'Escargot YMSG10: dave',
  writes: dave,
  user: { user: 'dave', network: 'yahoo' },
  confirmedAt: dave.findIndex((e) => e.direction === 'server' && decodePacket(e.bytes).service === S.LIST),
};

/**
 * What YMSG cannot carry as generated (the translator tests spell each out): text is markup there
 * (`<`, `&`, ESC start tags and entities, libpurple yahoo_codes_to_html) and a CR is dropped.
 */
function prepare(event: CanonicalEvent, _direction: Direction): CanonicalEvent | undefined {
  const plain = (s: string | undefined) => s === undefined || !/[<\u001b&\r]/.test(s);
  if (event.kind === 'im' && !plain(event.text)) return undefined;
  if (event.kind === 'presence' && !plain(event.text)) return undefined;
  if ('message' in event && !plain(event.message)) return undefined;
  return event;
}

codecSuite({
  codec: ymsg(),
  logins: [login],
  // The server never answers this client's AUTHRESP (its 00 0a header version reads as 0).
  refusedLogins: [
    { name: 'Escargot YMSG10: version 00 0a, no answer', writes: transcript('ymsg10_escargot_bever') },
  ],
  translation: { prepare },
  goldens: [
    ...transcriptGoldenStreams,
    // OpenYMSG's 69 recorded YMSG16 packets (lengths recomputed, see fixtures/openymsg-ymsg16.ts) as one stream.
    {
      name: 'OpenYMSG recorded YMSG16 packets',
      direction: 'server',
      bytes: concat(openymsg),
      frames: openymsg.length,
    },
  ],
  sniffYes: [
    { name: 'Escargot client VERIFY (version 0a 00)', direction: 'client', bytes: firstClientWrite.bytes },
    { name: 'client VERIFY with version 00 0a', direction: 'client', bytes: bever.bytes },
    { name: 'OpenYMSG YMSG16 packet', direction: 'client', bytes: openymsg[0]! },
  ],
  sniffNo: [
    { name: 'MSNP VER', direction: 'client', bytes: new TextEncoder().encode('VER 1 MSNP8 CVR0\r\n') },
    { name: 'OSCAR FLAP', direction: 'server', bytes: Uint8Array.of(0x2a, 0x01, 0x00, 0x64, 0x00, 0x04) },
    { name: 'XMPP stream', direction: 'client', bytes: new TextEncoder().encode("<?xml version='1.0'?>") },
  ],
  exhaustiveSplitLimit: 1024,
});
