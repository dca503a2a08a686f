/**
 * What the receiving gateway's copy check (`RecentArrivals.once`, on every IM that arrives over
 * G2G) costs per IM, beside the same delivery without it: CPU in ns, one process, 200,000 distinct
 * IMs a round. Internal (not exported), hence the source path.
 *
 *   npx tsx bench/recent-arrivals.ts [--rounds 3]
 */
import { parseArgs } from 'node:util';
import type { CanonicalEvent } from '@crosstalk/core';
import { RecentArrivals } from '../packages/gateway/src/node/routing/recent-arrivals.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const count = 200_000;
const from = { user: 'aimuser1', network: 'aol' };
const to = { user: 'yuser7', network: 'yahoo' };
const ims: CanonicalEvent[] = Array.from({ length: count }, (_, i) => ({
  kind: 'im',
  id: `ct-${i.toString(36)}`,
  from,
  to,
  text: 'x',
  sentAt: 1_796_500_000_000 + i,
}));
const deliver = () => Promise.resolve('ymsg');
const perIm = (started: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(started);
  return ((used.user + used.system) * 1000) / count;
};
for (let round = 1; round <= Number(values.rounds); round++) {
  const recent = new RecentArrivals(() => 0);
  let started = process.cpuUsage();
  for (const im of ims) await recent.once(im, deliver);
  const checked = perIm(started);
  started = process.cpuUsage();
  for (const _ of ims) await deliver();
  const bare = perIm(started);
  console.log(
    `round ${round}: with the copy check ${checked.toFixed(0)} ns per IM, without ${bare.toFixed(0)} ns`,
  );
}
