import { fuzzCodec } from '@crosstalk/compliance/fuzz';
import { describe, expect, it } from 'vitest';
import { xmppFuzzTarget } from './fuzz-target.js';

// A short seeded run of `npm run fuzz` (fuzz/run.ts runs a million inputs): framer both ways, frame
// codec, translator and proxy sessions fed mutated real sessions. The 100 ms per-input limit of the
// full run is raised here because this test shares the machine with the rest of the suite; an
// input counts as slow only if it stays over the limit when run three times. The packet capture is
// left out (tshark takes seconds to read it); the recorded sessions are all here.
describe('fuzz (short seeded run)', () => {
  it('gives only typed errors, keeps framers within their caps, and replays verified logins', () => {
    const report = fuzzCodec({
      ...xmppFuzzTarget({ pcap: false }),
      inputs: 3000,
      seed: 20_240_611,
      slowMs: 2000,
    });
    expect(report.failures).toEqual([]);
    expect(report.inputs).toBe(3000);
    expect(report.verifiedConnections).toBeGreaterThan(0);
    expect(report.verifiedInInputs).toBeGreaterThan(0);
  });
});
