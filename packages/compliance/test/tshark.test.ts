import { describe, expect, it } from 'vitest';
import { tsharkAvailable, tsharkFields } from '../src/index.js';

describe('tshark helper', () => {
  it('is installed (.ci/run installs it)', () => {
    expect(tsharkAvailable()).toBe(true);
  });

  it('reads back fields of packets wrapped by text2pcap, every occurrence in order', async () => {
    // A YMSG packet (found by tshark's heuristic on any port): keys 1 and 2 with their values.
    const payload = Buffer.from('1\xc0\x80a,b\xc0\x802\xc0\x80c\xc0\x80', 'latin1');
    const header = Buffer.from([
      0x59,
      0x4d,
      0x53,
      0x47,
      0,
      10,
      0,
      0,
      0,
      payload.length,
      0,
      6,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      1,
    ]);
    const rows = await tsharkFields({
      packets: [Buffer.concat([header, payload])],
      srcPort: 40000,
      dstPort: 5050,
      fields: ['ymsg.service', 'ymsg.content-line.key', 'ymsg.content-line.value'],
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      'ymsg.content-line.key': ['1', '2'],
      'ymsg.content-line.value': ['a,b', 'c'],
    });
  });
});
