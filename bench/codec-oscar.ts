/**
 * OSCAR codec throughput: framing, decode and encode of 150-character ICBMs (0x04/0x06 as a
 * client sends them, 0x04/0x07 as the server delivers them) beside a copy-only baseline, all in
 * one run on one core; plus the binary-parser FLAP/SNAC header parser against the hand-written
 * header read that the hot path uses. Prints a markdown section; with `--append FILE` also appends
 * it to FILE (docs/benchmarks.md, created with a `# Benchmarks` heading if missing).
 *
 *   npx tsx --conditions=@crosstalk/source bench/codec-oscar.ts [--append docs/benchmarks.md]
 */
import {
  createFlapFramer,
  decodeFlap,
  encodeFlap,
  type FlapFrame,
  OscarTranslator,
  oscar,
  parseFlapHeader,
  snacFrame,
  textToFragments,
} from '@crosstalk/codec-oscar';
import { MemoryCookieTable } from '@crosstalk/core';
import {
  caseList,
  copyBaselines,
  fmt,
  inChunks,
  machineLine,
  measureCases,
  publish,
  sampleText,
  sink,
} from './lib/harness.js';

const COUNT = 2000; // distinct frames, cycled
const TEXT_LENGTH = 150;
const WARMUP_MS = 1500; // per measurement, before any round
const MIN_MS = 150; // per measurement and round
const ROUNDS = 15; // best of; rounds visit every measurement in turn, so load spikes hit them alike

const text = (seed: number) => sampleText(seed, TEXT_LENGTH);

const cookie = (i: number) =>
  (0x43540000 + i).toString(16).padStart(8, '0') + i.toString(16).padStart(8, '0');

// As AIM sends one: cookie, channel 1, name, TLV 2 (capabilities + text fragment), TLV 3 (ack please).
const toHost: FlapFrame[] = Array.from({ length: COUNT }, (_, i) =>
  snacFrame(
    0x0004,
    0x0006,
    {
      type: 'icbm-to-host',
      cookie: cookie(i),
      channel: 1,
      screenName: `buddy${i % 89}`,
      tlvs: [
        { type: 2, fragments: textToFragments(text(i)) },
        { type: 3, value: new Uint8Array(0) },
      ],
    },
    { seq: i & 0xffff, requestId: i },
  ),
);
// As Open OSCAR Server delivers one (transcript oscar_bucp_im_ras #0074): sender user info with 5 TLVs.
const toClient: FlapFrame[] = Array.from({ length: COUNT }, (_, i) =>
  snacFrame(
    0x0004,
    0x0007,
    {
      type: 'icbm-to-client',
      cookie: cookie(i),
      channel: 1,
      sender: {
        screenName: `user${i % 97}`,
        warning: 0,
        tlvs: [
          { type: 0x03, value: Uint8Array.of(0x6b, 0x02, 0x57, 0x05) },
          { type: 0x01, value: Uint8Array.of(0x00, 0x11) },
          { type: 0x06, value: Uint8Array.of(0, 0, 0, 0) },
          { type: 0x0d, value: new Uint8Array(16).fill(9) },
          { type: 0x1e, value: Uint8Array.of(0, 0, 0, 0) },
        ],
      },
      tlvs: [{ type: 2, fragments: textToFragments(text(i)) }],
    },
    { seq: i & 0xffff, requestId: 0x80000000 },
  ),
);
const hostFrames = toHost.map(encodeFlap);
const clientFrames = toClient.map(encodeFlap);
const hostStream = Uint8Array.from(Buffer.concat(hostFrames));
const clientStream = Uint8Array.from(Buffer.concat(clientFrames));
// Encoding starts from frames built here, not from decoded ones: keeping thousands of decode
// results alive makes V8 pretenure every object the decoder allocates (allocation-site
// feedback), and the decode measurements would then time the old-generation GC instead.

/** A BOS session past "client online", as the gateway holds one. */
function verifiedSession() {
  const cookies = new MemoryCookieTable();
  cookies.record('oscar', '01020304', { user: 'alice', network: 'aol' });
  const session = oscar().openSession({
    connectionId: 'bench',
    target: { host: '127.0.0.1', port: 5190 },
    isForeign: (a) => a.network !== 'aol' && a.network !== 'icq',
    foreignRoster: () => [],
    cookies,
    endpoints: { allocate: () => ({ host: '127.0.0.1', port: 0 }), release: () => {} },
    now: () => 0,
    newId: () => 'x',
  });
  session.fromServer(encodeFlap({ channel: 1, seq: 100, payload: { type: 'signon', version: 1, tlvs: [] } }));
  session.fromClient(
    encodeFlap({
      channel: 1,
      seq: 1,
      payload: { type: 'signon', version: 1, tlvs: [{ type: 6, value: Uint8Array.of(1, 2, 3, 4) }] },
    }),
  );
  session.fromClient(encodeFlap(snacFrame(1, 2, { type: 'raw', bytes: new Uint8Array(0) }, { seq: 2 })));
  if (session.state !== 'verified') throw new Error('bench session is not verified');
  return session;
}

const { cases, measure } = caseList();
cases.push(...copyBaselines(clientFrames, '0x04/0x07 frame'));
measure('framer', 'split a 64 KiB-chunked stream of 0x04/0x07 frames', (n) => {
  const framer = createFlapFramer();
  inChunks(clientStream, COUNT, n, (chunk) => {
    sink.value += framer.push(chunk).length;
  });
});
measure('decode 0x04/0x06', 'client IM: cookie, name, TLVs, fragments, text', (n) => {
  for (let i = 0; i < n; i++) sink.value += decodeFlap(hostFrames[i % COUNT]!).seq;
});
measure('decode 0x04/0x07', 'server IM: cookie, sender user info (5 TLVs), fragments, text', (n) => {
  for (let i = 0; i < n; i++) sink.value += decodeFlap(clientFrames[i % COUNT]!).seq;
});
measure('framer + decode 0x04/0x07', 'chunked stream to decoded frames', (n) => {
  const framer = createFlapFramer();
  inChunks(clientStream, COUNT, n, (chunk) => {
    for (const f of framer.push(chunk)) sink.value += decodeFlap(f).seq;
  });
});
measure('encode 0x04/0x06', 'sized first, one buffer', (n) => {
  for (let i = 0; i < n; i++) sink.value += encodeFlap(toHost[i % COUNT]!).length;
});
measure('encode 0x04/0x07', 'sized first, one buffer', (n) => {
  for (let i = 0; i < n; i++) sink.value += encodeFlap(toClient[i % COUNT]!).length;
});
const translator = new OscarTranslator({ self: { user: 'alice', network: 'aol' }, now: () => 0 });
measure('decode + toEvents 0x04/0x07', 'frame to canonical `im` (what `crosstalk decode` does)', (n) => {
  for (let i = 0; i < n; i++) {
    sink.value += translator.toEvents(decodeFlap(clientFrames[i % COUNT]!), 'server').length;
  }
});
measure('proxy session, server to client', 'verified BOS session relaying 0x04/0x07 chunks', (n) => {
  const session = verifiedSession();
  inChunks(clientStream, COUNT, n, (chunk) => {
    sink.value += session.fromServer(chunk).toClient.length;
  });
});
measure('header: hand-written read', 'FLAP + SNAC header fields of a 0x04/0x07 frame', (n) => {
  for (let i = 0; i < n; i++) {
    const b = clientFrames[i % COUNT]!;
    sink.value += b[1]! + ((b[2]! << 8) | b[3]!) + ((b[4]! << 8) | b[5]!) + ((b[6]! << 8) | b[7]!);
    sink.value += ((b[8]! << 8) | b[9]!) + ((b[10]! << 8) | b[11]!);
    sink.value += ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0;
  }
});
measure('header: binary-parser', 'the same fields with the compiled binary-parser definition', (n) => {
  for (let i = 0; i < n; i++) sink.value += parseFlapHeader(clientFrames[i % COUNT]!).seq;
});

const results = measureCases(cases, { batch: COUNT * 5, warmupMs: WARMUP_MS, minMs: MIN_MS, rounds: ROUNDS });
const baseline = results[0]!.rate;
const rateOf = (name: string) => results.find((r) => r.name === name)!.rate;
const lines = [
  '## codec-oscar: FLAP framing, decode and encode of 150-character ICBMs',
  '',
  `- machine: ${machineLine()} (a shared machine: other work ran beside this one)`,
  '- command: `npx tsx --conditions=@crosstalk/source bench/codec-oscar.ts`',
  `- frames: ${COUNT} distinct 0x04/0x06 frames of ${Math.round(hostStream.length / COUNT)} bytes and 0x04/0x07 frames of ${Math.round(clientStream.length / COUNT)} bytes (150 ASCII characters each), cycled; best of ${ROUNDS} interleaved rounds of at least ${MIN_MS} ms per measurement; ratio = rate / copy-only baseline`,
  '',
  '| measurement | what | frames/s | ratio to baseline |',
  '|---|---|---:|---:|',
  ...results.map((r) => `| ${r.name} | ${r.what} | ${fmt(r.rate)} | ${(r.rate / baseline).toFixed(3)} |`),
  '',
  `Target: at least 1,000,000 frames/s decode on one core. Here: the client's 0x04/0x06 (what the proxy inspects to withhold foreign IMs) ${fmt(rateOf('decode 0x04/0x06'))} frames/s; the server's 0x04/0x07, which also carries the sender's user info with 5 TLVs, ${fmt(rateOf('decode 0x04/0x07'))} frames/s. Decoding allocates views and objects only (no copy); on this V8 a typed-array view costs about as much as parsing a TLV, which is what separates the two. The compiled binary-parser header definition reads ${fmt(rateOf('header: binary-parser'))} headers/s (hand-written: ${fmt(rateOf('header: hand-written read'))}), which alone would use most of a 1 µs per-frame budget, so the hot path reads FLAP and SNAC headers by hand; binary-parser parses the cold paths (ICQ channel-4 messages, feedbag item lists) and cross-checks every header in the tests.`,
  '',
];
const section = lines.join('\n');
publish(`${section}\n`);
