import { codecSuite, type SniffSample } from '@crosstalk/compliance';
import { msnp } from '../src/index.js';
import { referenceGoldens } from './fixtures/reference-goldens.js';
import { msnpConnection, TRANSCRIPTS, transcript, transcriptGoldens } from './transcripts.js';

const encoder = new TextEncoder();

// The first client write of every MSNP connection in the transcripts: VER (NS), USR/ANS (SB).
const sniffYes: SniffSample[] = [];
for (const name of TRANSCRIPTS) {
  const seen = new Set<string>();
  for (const e of transcript(name)) {
    if (!msnpConnection(e.conn) || e.direction !== 'client' || seen.has(e.conn)) continue;
    seen.add(e.conn);
    sniffYes.push({ name: `${name} ${e.conn}`, direction: 'client', bytes: e.bytes });
  }
}

codecSuite({
  codec: msnp(),
  goldens: [...TRANSCRIPTS.flatMap(transcriptGoldens), ...referenceGoldens()],
  sniffYes,
  sniffNo: [
    {
      name: 'XMPP stream',
      direction: 'client',
      bytes: encoder.encode("<?xml version='1.0'?><stream:stream to='localhost'>"),
    },
    {
      name: 'YMSG header',
      direction: 'client',
      bytes: Uint8Array.from([0x59, 0x4d, 0x53, 0x47, 0x0a, 0, 0, 0, 0, 0]),
    },
    { name: 'OSCAR FLAP', direction: 'server', bytes: Uint8Array.from([0x2a, 1, 0, 100, 0, 4, 0, 0, 0, 1]) },
    { name: 'a server speaking first', direction: 'server', bytes: encoder.encode('VER 1 MSNP8\r\n') },
    { name: 'SMTP greeting', direction: 'client', bytes: encoder.encode('EHLO localhost\r\n') },
  ],
  garbageRuns: 200,
});
