import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { toPcap, tsharkAvailable } from '@crosstalk/compliance';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodePacket, HEADER_SIZE, type YmsgPacket, YmsgService, ymsgPacket } from '../src/index.js';

const FIELDS = [
  'ymsg.version',
  'ymsg.vendor',
  'ymsg.len',
  'ymsg.service',
  'ymsg.status',
  'ymsg.session_id',
  'ymsg.content-line.key',
  'ymsg.content-line.value',
] as const;

/**
 * tshark reading a pcap file. compliance's tsharkFields pipes the pcap into `tshark -r -`, which
 * tshark 4.0 refuses when stdin is the socket Node's child_process gives it ("The standard input
 * is a special file or socket"), so the pcap goes through a temporary file here.
 */
async function tsharkRows(packets: Uint8Array[]): Promise<Record<string, string[]>[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ymsg-tshark-'));
  try {
    const file = join(dir, 'packets.pcap');
    // One packet per TCP segment: the YMSG dissector's reassembly breaks when a segment ends inside "YMSG".
    await writeFile(file, await toPcap(packets, 40000, 5050));
    const { stdout } = await promisify(execFile)(
      'tshark',
      ['-r', file, '-T', 'json', '-e', 'frame.number', ...FIELDS.flatMap((f) => ['-e', f])],
      { maxBuffer: 256 * 1024 * 1024 },
    );
    return (JSON.parse(stdout) as { _source: { layers: Record<string, string[]> } }[]).map(
      (p) => p._source.layers,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * How Wireshark's packet-ymsg.c shows a value: the bytes as an ASCII C string (ENC_ASCII), so
 * every byte >= 0x80 is U+FFFD and the value ends at the first NUL.
 */
function asTsharkShowsIt(value: Uint8Array): string {
  let s = '';
  for (const b of value) {
    if (b === 0) break;
    s += b >= 0x80 ? '\ufffd' : String.fromCharCode(b);
  }
  return s;
}

/** packet-ymsg.c adds the session id with ENC_LITTLE_ENDIAN while the wire is big-endian. */
function sessionIdAsTsharkShowsIt(sessionId: number): string {
  const swapped =
    (((sessionId & 0xff) << 24) |
      ((sessionId & 0xff00) << 8) |
      ((sessionId >>> 8) & 0xff00) |
      (sessionId >>> 24)) >>>
    0;
  return `0x${swapped.toString(16).padStart(8, '0')}`;
}

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }), // non-ASCII text, sent as UTF-8
  fc.constantFrom('Hi Dave \u263a', '\u65e5\u672c\u8a9e', '\ud83d\ude00 \u00e9t\u00e9', ' ', ''),
);
const value = fc.oneof(
  text,
  fc.uint8Array({ maxLength: 24 }).filter((v) => !/^(..)*c080/.test(Buffer.from(v).toString('hex'))),
);
const packetArb: fc.Arbitrary<YmsgPacket> = fc
  .record({
    version: fc.oneof(
      fc.constantFrom(0x0009, 0x000a, 0x0a00, 0x000b, 0x000f, 0x0010, 0),
      fc.integer({ min: 0, max: 0xffff }),
    ),
    vendor: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })),
    service: fc.oneof(fc.constantFrom(...Object.values(YmsgService)), fc.integer({ min: 0, max: 0xffff })),
    status: fc.oneof(
      fc.constantFrom(0, 1, 3, 5, 0x16, 99, 999, 0x5a55aa55, 0x5a55aa56, 0xffffffff),
      fc.nat(),
    ),
    sessionId: fc.integer({ min: 0, max: 0xffffffff }),
    pairs: fc.array(
      fc.tuple(fc.oneof(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 99999 })), value),
      {
        maxLength: 10,
      },
    ),
  })
  .map(({ pairs, service, ...header }) => ymsgPacket(service, pairs, header));

describe.skipIf(!tsharkAvailable())('tshark agrees with the encoder', () => {
  it('on version, vendor, length, service, status, session id and every key/value of 1,200 generated packets', async () => {
    const packets = fc.sample(packetArb, { numRuns: 1200, seed: 20261122 });
    const frames = packets.map(encodePacket);
    const rows = await tsharkRows(frames);
    expect(rows).toHaveLength(packets.length);
    let nonAscii = 0;
    packets.forEach((packet, i) => {
      const row = rows[i]!;
      const where = `packet ${i}: ${Buffer.from(frames[i]!).toString('hex')}`;
      expect(row['ymsg.version'], where).toEqual([String(packet.version)]);
      expect(row['ymsg.vendor'], where).toEqual([String(packet.vendor)]);
      expect(row['ymsg.len'], where).toEqual([String(frames[i]!.length - HEADER_SIZE)]);
      expect(row['ymsg.service'], where).toEqual([String(packet.service)]);
      expect(row['ymsg.status'], where).toEqual([String(packet.status)]);
      // tshark prints the session id byte-swapped (little-endian read of a big-endian field).
      expect(row['ymsg.session_id'], where).toEqual([sessionIdAsTsharkShowsIt(packet.sessionId)]);
      expect(row['ymsg.content-line.key'] ?? [], where).toEqual(packet.pairs.map(([k]) => String(k)));
      expect(row['ymsg.content-line.value'] ?? [], where).toEqual(
        packet.pairs.map(([, v]) => asTsharkShowsIt(v)),
      );
      if (packet.pairs.some(([, v]) => v.some((b) => b >= 0x80))) nonAscii++;
    });
    expect(nonAscii).toBeGreaterThan(100); // the sample really exercised non-ASCII values
  });

  it('reads the session id byte-swapped: 0xc84bf0fa on the wire is 0xfaf04bc8 in tshark', async () => {
    const [row] = await tsharkRows([
      encodePacket(ymsgPacket(YmsgService.PING, [], { sessionId: 0xc84bf0fa })),
    ]);
    expect(row!['ymsg.session_id']).toEqual(['0xfaf04bc8']);
  });
});
