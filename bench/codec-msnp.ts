/**
 * MSNP codec throughput: framing, decode and encode of MSG commands with 150-character bodies,
 * beside a copy-only baseline, all in one run on one core; plus the proxy session's pass-through
 * of the same messages on a verified switchboard. Prints a markdown section; with `--append FILE`
 * also appends it to FILE (docs/benchmarks.md, created with a `# Benchmarks` heading if missing).
 *
 *   npx tsx --conditions=@crosstalk/source bench/codec-msnp.ts [--append docs/benchmarks.md]
 */
import { CommandFramer, decodeFrame, encodeFrame, MsnpTranslator, msnp } from '@crosstalk/codec-msnp';
import { MemoryCookieTable, type SessionContext } from '@crosstalk/core';
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

const COUNT = 2000; // distinct commands, cycled
const BODY_LENGTH = 150;
const MIN_MS = 400; // per measurement round
const ROUNDS = 5; // best of
const CHUNK = 65536;

const body = (seed: number) => sampleText(seed, BODY_LENGTH);

const encoder = new TextEncoder();
// A switchboard delivering a message, as in the Escargot transcripts: `MSG passport friendly len` + MIME.
const commands = Array.from({ length: COUNT }, (_, i) => {
  const mime = `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=22\r\n\r\n${body(i)}`;
  return encoder.encode(
    `MSG buddy${i % 89}@example.com Buddy%20${i % 89} ${encoder.encode(mime).length}\r\n${mime}`,
  );
});
const stream = Uint8Array.from(Buffer.concat(commands));
const bytesPerCommand = stream.length / COUNT;
const decoded = commands.map((c) => decodeFrame(c, 'server'));

const { cases, measure } = caseList();
/** Runs `each` over the stream in 64 KiB chunks, as TCP reads arrive, until n commands passed. */
const chunked = (n: number, each: (chunk: Uint8Array) => void) => inChunks(stream, COUNT, n, each, CHUNK);

cases.push(...copyBaselines(commands, 'command'));
measure('framer', 'split the 64 KiB-chunked stream into commands', (n) => {
  const framer = new CommandFramer('server');
  chunked(n, (chunk) => {
    sink.value += framer.push(chunk).length;
  });
});
measure('decode', 'one command to `{ verb, args, payload }` (URL-encoded args kept as spelled)', (n) => {
  for (let i = 0; i < n; i++) sink.value += decodeFrame(commands[i % COUNT]!, 'server').type.length;
});
measure('framer + decode', 'chunked stream to decoded commands', (n) => {
  const framer = new CommandFramer('server');
  chunked(n, (chunk) => {
    for (const raw of framer.push(chunk)) sink.value += decodeFrame(raw, 'server').type.length;
  });
});
measure('encode', 're-encode a decoded command byte for byte', (n) => {
  for (let i = 0; i < n; i++) sink.value += encodeFrame(decoded[i % COUNT]!).length;
});
const translator = new MsnpTranslator({
  self: { user: 'alice@example.com', network: 'msn' },
  now: () => 0,
  newId: () => 'x',
});
measure('decode + translate', 'decode, parse the MIME and X-MMS-IM-Format into an `im` event', (n) => {
  for (let i = 0; i < n; i++)
    sink.value += translator.toEvents(decodeFrame(commands[i % COUNT]!, 'server'), 'server').length;
});

// The proxy hot path: a verified switchboard session relaying the server's messages to the client.
const cookies = new MemoryCookieTable();
const ctx: SessionContext = {
  connectionId: 'bench',
  target: { host: '127.0.0.1', port: 1864 },
  isForeign: () => false,
  foreignRoster: () => [],
  cookies,
  endpoints: { allocate: () => ({ host: '127.0.0.1', port: 1 }), release: () => {} },
  now: () => 0,
  newId: () => 'x',
};
cookies.record(
  'msnp',
  'c00kie',
  { user: 'alice@example.com', network: 'msn' },
  { protocol: 'msnp', via: 'XFR', dialect: 12 },
);
const session = msnp().openSession(ctx);
session.fromClient(encoder.encode('USR 1 alice@example.com c00kie\r\n'));
if (
  session.fromServer(encoder.encode('USR 1 OK alice@example.com Alice\r\n')).events[0]?.type !== 'verified'
) {
  throw new Error('bench: the switchboard session did not verify');
}
measure(
  'proxy session pass-through',
  'verified switchboard: frame, decode, report `inbound im`, forward the original bytes',
  (n) => {
    chunked(n, (chunk) => {
      sink.value += session.fromServer(chunk).toClient.length;
    });
  },
);

const results = measureCases(cases, { batch: COUNT * 10, warmupMs: 400, minMs: MIN_MS, rounds: ROUNDS });
const baseline = results[0]!.rate;
const command = 'npx tsx --conditions=@crosstalk/source bench/codec-msnp.ts';
const decodeRate = results.find((r) => r.name === 'framer + decode')!.rate;
const section = [
  '',
  '## codec-msnp: MSG commands with 150-character bodies',
  '',
  `- machine: ${machineLine()} (a shared machine: rates vary between runs, the ratios less)`,
  `- command: \`${command}\``,
  `- commands: ${COUNT} distinct server \`MSG passport friendly len\` commands, each a MIME text/plain message with X-MMS-IM-Format and a ${BODY_LENGTH}-character body, ${bytesPerCommand.toFixed(0)} bytes each on average; best of ${ROUNDS} rounds of at least ${MIN_MS} ms, all in this one run`,
  '',
  '| operation | what it does | commands/s | MB/s | vs copy-only baseline |',
  '|---|---|---:|---:|---:|',
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.what} | ${fmt(r.rate)} | ${((r.rate * bytesPerCommand) / 1e6).toFixed(1)} | ${(r.rate / baseline).toFixed(2)}x |`,
  ),
  '',
  `Target: at least 500,000 commands/s decode (framer + decode) on one core: ${decodeRate >= 5e5 ? 'met' : 'not met'} in this run.`,
  '',
].join('\n');

publish(section);
