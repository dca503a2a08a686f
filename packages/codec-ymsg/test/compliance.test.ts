import { codecSuite } from '@crosstalk/compliance';
import { ymsg } from '../src/index.js';
import { concat, openYmsgFrames, transcript, transcriptGoldens } from './helpers.js';

const transcriptGoldenStreams = transcriptGoldens();
const openymsg = openYmsgFrames();
const firstClientWrite = transcript('ymsg10_escargot').find((e) => e.direction === 'client')!;
const bever = transcript('ymsg10_escargot_bever').find((e) => e.direction === 'client')!;

codecSuite({
  codec: ymsg(),
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
