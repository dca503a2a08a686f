import type { FuzzOptions } from '@crosstalk/compliance/fuzz';
import { sessionFromTranscript } from '@crosstalk/compliance/fuzz';
import { ymsg } from '../src/index.js';
import { concat, openYmsgFrames, transcript } from './helpers.js';

/**
 * What `npm run fuzz` and test/fuzz.test.ts fuzz YMSG with: the recorded Escargot sessions (a
 * YMSG10 login that is verified, buddies, messages, authorization) and OpenYMSG's recorded YMSG16
 * packets as an extra server stream.
 */
export function ymsgFuzzTarget(): Omit<FuzzOptions, 'inputs' | 'seed'> {
  return {
    codec: ymsg(),
    sessions: [
      sessionFromTranscript('ymsg10_escargot', transcript('ymsg10_escargot')),
      sessionFromTranscript('ymsg10_escargot_bever', transcript('ymsg10_escargot_bever')),
    ],
    streams: [
      { name: 'OpenYMSG recorded YMSG16 packets', direction: 'server', bytes: concat(openYmsgFrames()) },
    ],
  };
}
