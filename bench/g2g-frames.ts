/**
 * What a G2G event's frame costs to write and to read, per event, on the link's hot path: an EVENT
 * (the canonical stanza) and a LOCATED frame (the same with the sender's signed location record,
 * G2G version 2), each written from its parts in one allocation (`encodeG2g(type, ...parts)`)
 * beside the way they were written before (the body joined first, then copied into the frame),
 * and read back by the framer (`G2gFramer`, a batch of 64 frames a chunk, as links batch writes).
 * CPU in ns, one process, 200,000 events a round. Internal (not exported), hence the source paths.
 *
 *   npx tsx bench/g2g-frames.ts [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { encodeRecord, signRecord } from '../packages/gateway/src/directory/records.js';
import { generateIdentity } from '../packages/gateway/src/g2g/identity.js';
import {
  decodeLocated,
  encodeG2g,
  G2gFramer,
  G2gType,
  locatedParts,
  readU32,
  u32,
} from '../packages/gateway/src/g2g/wire.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const count = 200_000;
const BATCH = 64;
// A 150-character IM as a stanza (the paper bench's load), and a location record as a gateway signs it.
const payload = Buffer.from(
  `<message from="aimuser1@aol" to="yuser7@yahoo" id="ct-1x2y" type="chat"><body>${'x'.repeat(150)}</body></message>`,
);
const record = encodeRecord(
  signRecord(generateIdentity(), {
    kind: 'location',
    subject: 'aimuser1@aol',
    body: { contact: { transport: 'hyperdht' }, presence: { status: 'online' }, g2g: 2 },
    issuedAt: Date.now(),
    ttl: 60_000,
  }),
);

type Writer = (id: number) => Uint8Array;
const writers: [string, Writer][] = [
  [
    'EVENT, body joined then copied (before)',
    (id) => encodeG2g(G2gType.event, Buffer.concat([u32(id), payload])),
  ],
  ['EVENT, from its parts', (id) => encodeG2g(G2gType.event, u32(id), payload)],
  [
    'LOCATED, body joined then copied (as first written)',
    (id) =>
      encodeG2g(G2gType.located, Buffer.concat([u32(id), Buffer.concat(locatedParts(record, payload))])),
  ],
  ['LOCATED, from its parts', (id) => encodeG2g(G2gType.located, u32(id), ...locatedParts(record, payload))],
];

const nsPerEvent = (started: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(started);
  return ((used.user + used.system) * 1000) / count;
};

/** Writes `count` frames, batched as a link does (each batch joined, then let go): ns per event. */
function write(writer: Writer): number {
  const started = process.cpuUsage();
  let batch: Uint8Array[] = [];
  let bytes = 0;
  for (let id = 1; id <= count; id++) {
    batch.push(writer(id));
    if (batch.length === BATCH) {
      bytes += Buffer.concat(batch).length;
      batch = [];
    }
  }
  if (bytes === 0) throw new Error('nothing written');
  return nsPerEvent(started);
}

/** The chunks a receiving link gets for `count` frames (made outside the timing). */
function received(writer: Writer): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let id = 1; id <= count; id += BATCH)
    chunks.push(Buffer.concat(Array.from({ length: BATCH }, (_, i) => writer(id + i))));
  return chunks;
}

/** Reads the chunks back as the receiving link does (message id, and a LOCATED frame's record). */
function read(chunks: Uint8Array[]): number {
  const framer = new G2gFramer();
  const started = process.cpuUsage();
  let seen = 0;
  for (const chunk of chunks)
    for (const frame of framer.push(chunk)) {
      seen += readU32(frame.body);
      if (frame.type === G2gType.located) seen += decodeLocated(frame.body.subarray(4)).record.length;
    }
  if (seen === 0) throw new Error('nothing read');
  return nsPerEvent(started);
}

console.log(
  `frame bytes: EVENT ${5 + 4 + payload.length}, LOCATED ${5 + 4 + 2 + record.length + payload.length} (record ${record.length})`,
);
for (let round = 1; round <= Number(values.rounds); round++) {
  const line = writers.map(([name, writer]) => {
    const ns = write(writer);
    return `${name}: write ${ns.toFixed(0)} ns, read ${read(received(writer)).toFixed(0)} ns`;
  });
  console.log(`round ${round}:\n  ${line.join('\n  ')}`);
}
