import type { FuzzOptions } from '@crosstalk/compliance/fuzz';
import { readTranscript, sessionFromCapture, sessionFromTranscript } from '@crosstalk/compliance/fuzz';
import { oscar } from '../src/index.js';
import { BUCP_TRANSCRIPT, pcapStreams, ROASTED_TRANSCRIPT } from './goldens.js';

/**
 * What `npm run fuzz` and test/fuzz.test.ts fuzz OSCAR with: both Open OSCAR Server sessions (auth
 * connections before the BOS connections their cookies open, so BOS logins are verified) and the
 * plain OSCAR streams of the 2009 AIM capture. `pcap: false` leaves the capture out (reading it
 * takes tshark a few seconds: the short run in `npm test` does without).
 */
export function oscarFuzzTarget(options: { pcap?: boolean } = {}): Omit<FuzzOptions, 'inputs' | 'seed'> {
  return {
    codec: oscar(),
    sessions: [
      sessionFromTranscript('bucp', readTranscript(BUCP_TRANSCRIPT)),
      sessionFromTranscript('roasted', readTranscript(ROASTED_TRANSCRIPT)),
      ...((options.pcap ?? true)
        ? pcapStreams().map((s) => sessionFromCapture(`aim capture stream ${s.stream}`, s))
        : []),
    ],
  };
}
