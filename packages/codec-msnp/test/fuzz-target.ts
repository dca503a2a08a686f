import type { FuzzOptions } from '@crosstalk/compliance/fuzz';
import { sessionFromTranscript } from '@crosstalk/compliance/fuzz';
import { msnp } from '../src/index.js';
import { referenceGoldens } from './fixtures/reference-goldens.js';
import { msnpConnection, TRANSCRIPTS, transcript } from './transcripts.js';

const enc = new TextEncoder();

/**
 * What `npm run fuzz` and test/fuzz.test.ts fuzz MSNP with: the four recorded Escargot sessions
 * (every NS and SB connection, in recorded order, so switchboards find their cookies), the
 * reference exchanges as extra streams, and a client answering the virtual switchboards the
 * notification session rings it to (`ANS t passport cookie sessid`, then a message).
 */
export function msnpFuzzTarget(): Omit<FuzzOptions, 'inputs' | 'seed'> {
  return {
    codec: msnp(),
    sessions: TRANSCRIPTS.map((name) =>
      sessionFromTranscript(`${name} escargot`, transcript(name), msnpConnection),
    ),
    streams: referenceGoldens(),
    virtualClient: (data) => {
      const d = data as { owner?: { user?: string }; cookie?: string; sessid?: string };
      const payload = 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello';
      return [
        enc.encode(
          `ANS 1 ${d.owner?.user ?? 'nobody@example.com'} ${d.cookie ?? '0'} ${d.sessid ?? '0'}\r\n`,
        ),
        enc.encode(`MSG 2 N ${enc.encode(payload).length}\r\n${payload}`),
        enc.encode('OUT\r\n'),
      ];
    },
  };
}
