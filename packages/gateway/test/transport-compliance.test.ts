import { transportSuite } from '@crosstalk/compliance';
import { generateIdentity, TcpG2gTransport } from '../src/index.js';

// The embedded transport (TCP + Noise) against the G2G transport contract. The concurrency check
// opens 16 handshakes at once from 127.0.0.1, over the default per-source cap of 8.
transportSuite({
  name: 'TcpG2gTransport',
  create: async () => new TcpG2gTransport({ identity: generateIdentity(), maxPendingPerSource: 64 }),
});
