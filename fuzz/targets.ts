import type { FuzzOptions } from '@crosstalk/compliance/fuzz';
import { msnpFuzzTarget } from '../packages/codec-msnp/test/fuzz-target.js';
import { oscarFuzzTarget } from '../packages/codec-oscar/test/fuzz-target.js';
import { xmppFuzzTarget } from '../packages/codec-xmpp/test/fuzz-target.js';
import { ymsgFuzzTarget } from '../packages/codec-ymsg/test/fuzz-target.js';

/** The in-repo codecs and the real sessions each is fuzzed with (built lazily: some need tshark). */
export const TARGETS: Record<string, () => Omit<FuzzOptions, 'inputs' | 'seed'>> = {
  oscar: oscarFuzzTarget,
  ymsg: ymsgFuzzTarget,
  msnp: msnpFuzzTarget,
  xmpp: xmppFuzzTarget,
};
