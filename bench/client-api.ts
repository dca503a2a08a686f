/**
 * The client API (issue 18), measured beside what it replaces, in one run:
 *
 * - **sendIM**: one IM at a time, sent and awaited at the recipient's application, from a client-API
 *   user (`createClient`, a node of her own: what the shim does for users of other networks) and
 *   from a Yahoo user whose unmodified client (the scripted YMSG client) goes through a SOCKS
 *   gateway, to the same client-API recipient. Latency percentiles and the process's CPU per IM.
 * - **getFile**: a file between two client-API users (G2G over TCP with Noise on loopback, the
 *   file's bytes on the TLS-PSK data channel beside the file stream, each
 *   chunk checked against the offer's chunk-hash list, the credit window) beside a plain TCP copy of the same bytes over loopback; MB/s and
 *   CPU per MB, best of the rounds, and the ratio (issue 18's goal: at least half); and a third path,
 *   the same bytes over TLS-PSK AES-256-GCM with the receiver's SHA-256 (`lib/secure-copy.ts`): the
 *   floor of any encrypted, verified transfer on the machine.
 *
 * Everything runs in this process on 127.0.0.1 (one MemoryDht): both ends of each path share one
 * event loop, as the two ends of the plain copy do. Then getFile and the plain copy again across two
 * processes (the sender and the copy's writer in a child, `lib/file-sender-process.ts`; the
 * directory on a hyperdht testnet, G2G still TCP with Noise), CPU counted in both. Prints a
 * markdown section; with `--append FILE` also appends it to FILE.
 *
 *   npx tsx --conditions=@crosstalk/source bench/client-api.ts [--ims 1000] [--mb 64] [--rounds 5] [--append docs/benchmarks.md]
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { oscar } from '@crosstalk/codec-oscar';
import { ymsg } from '@crosstalk/codec-ymsg';
import { ScriptedYmsgClient, startMockYmsgServer } from '@crosstalk/codec-ymsg/testing';
import { type Address, type FileOfferEvent, type FileSink, MemoryDht } from '@crosstalk/core';
import { createGateway } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { HyperDhtStore, startTestnet } from '@crosstalk/network-hyperdht';
import { bytesSource, createClient, digestBytes, FileReceiver, FileSender } from '@crosstalk/shim';
import { machineLine, numberArg, publish } from './lib/harness.js';
import { newPsk, secureSink, secureWrite } from './lib/secure-copy.js';

const IMS = numberArg('ims', 1000);
const MB = numberArg('mb', 64);
const ROUNDS = numberArg('rounds', 5);
const WARMUP = 100;
const TEXT = 'Grüße aus Zürich, a line of chat of about the usual length: 50 chars.';

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

// ------------------------------------------------------------------ setup

const dht = new MemoryDht();
const server = await startMockYmsgServer({ users: [{ id: 'carol', password: 'carol-pw' }] });
const gateway = await createGateway({
  // OSCAR too: a SOCKS session treats only the networks its gateway bridges as foreign (aol here).
  codecs: [ymsg(), oscar()],
  dht,
  socks: { port: 0 },
  logger: false,
});
const client = (user: string) =>
  createClient({ identity: { address: { user, network: 'aol' } }, network: 'aol', dht });
const alice = await client('alice');
const bob = await client('bob');
const carol = await ScriptedYmsgClient.connect({
  host: server.host,
  port: server.port,
  id: 'carol',
  password: 'carol-pw',
  version: 0x0010,
  dial: (host, port) => socksConnect(gateway.socks, host, port),
  isForeign: (a) => a.network !== 'yahoo',
  timeoutMs: 15_000,
});
await carol.login();
const carolAddress: Address = { user: 'carol', network: 'yahoo' };
while (!(await gateway.directory.lookupLocation(carolAddress))) await new Promise((r) => setTimeout(r, 20));

// ------------------------------------------------------------------ sendIM

/** The IM with this text arrived at bob's application. */
const waiting = new Map<string, () => void>();
bob.on('im', (im) => waiting.get(im.text)?.());
const arrival = (text: string) => new Promise<void>((resolve) => waiting.set(text, resolve));

interface ImRun {
  latencies: number[];
  cpuPerIm: number;
}

async function imRun(send: (text: string) => unknown, tag: string, n: number): Promise<ImRun> {
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const text = `${TEXT} ${tag} ${i}`;
    const arrived = arrival(text);
    const start = performance.now();
    await send(text);
    await arrived;
    latencies.push(performance.now() - start);
    waiting.delete(text);
  }
  return { latencies: latencies.sort((a, b) => a - b), cpuPerIm: cpuMs(cpu) / n };
}

const bobAddress: Address = { user: 'bob', network: 'aol' };
const viaApi = (text: string) => alice.sendIM(bobAddress, text);
const viaSocks = (text: string) => carol.sendMessage('bob@aol', text);
await imRun(viaApi, 'warm-api', WARMUP);
await imRun(viaSocks, 'warm-socks', WARMUP);
// Alternating halves, so that a load spike on the shared machine hits both paths alike.
const api: number[] = [];
const socks: number[] = [];
let apiCpu = 0;
let socksCpu = 0;
for (let half = 0; half < 2; half++) {
  const a = await imRun(viaApi, `api${half}`, IMS / 2);
  const s = await imRun(viaSocks, `socks${half}`, IMS / 2);
  api.push(...a.latencies);
  socks.push(...s.latencies);
  apiCpu += a.cpuPerIm / 2;
  socksCpu += s.cpuPerIm / 2;
}
api.sort((a, b) => a - b);
socks.sort((a, b) => a - b);

// ------------------------------------------------------------------ getFile

const data = randomBytes(MB * 1024 * 1024);
const sha256 = createHash('sha256').update(data).digest('hex');

/** A sink that counts what it is given (the bytes are checked by getFile's SHA-256). */
function countingSink(): FileSink {
  let offset = 0;
  return {
    get offset() {
      return offset;
    },
    write: async (chunk) => {
      offset += chunk.length;
    },
  };
}

const offers: FileOfferEvent[] = [];
bob.on('file-offer', (o) => offers.push(o));

async function fileRound(): Promise<{ mbps: number; cpuPerMb: number }> {
  // sendFile's one pass over the file (its SHA-256 and chunk-hash list), not timed.
  const offer = await alice.sendFile(bobAddress, bytesSource('bench.bin', data));
  while (!offers.some((o) => o.id === offer.id)) await new Promise((r) => setTimeout(r, 5));
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await bob.getFile(offers.find((o) => o.id === offer.id)!, countingSink());
  const seconds = (performance.now() - start) / 1000;
  if (result.sha256 !== sha256) throw new Error('the file arrived different');
  await alice.withdrawFile(offer.id);
  return { mbps: MB / seconds, cpuPerMb: cpuMs(cpu) / MB };
}

/**
 * A loopback listener that counts what arrives; `received` resolves once `bytes` have (with their
 * SHA-256 when `hashed`: the check getFile makes, without its transport or protocol).
 */
async function byteSink(
  bytes: number,
  hashed = false,
): Promise<{ listener: net.Server; received: Promise<string | undefined> }> {
  let done!: (sha256: string | undefined) => void;
  const received = new Promise<string | undefined>((resolve) => {
    done = resolve;
  });
  const listener = net.createServer((socket) => {
    let got = 0;
    const hash = hashed ? createHash('sha256') : undefined;
    socket.on('data', (chunk: Buffer) => {
      hash?.update(chunk);
      got += chunk.length;
      if (got >= bytes) done(hash?.digest('hex'));
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return { listener, received };
}

async function tcpRound(hashed = false): Promise<{ mbps: number; cpuPerMb: number }> {
  const { listener, received } = await byteSink(data.length, hashed);
  const { port } = listener.address() as net.AddressInfo;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const socket = net.connect(port, '127.0.0.1');
  // As a file copy does: a piece at a time, waiting for the socket to drain.
  for (let at = 0; at < data.length; at += 256 * 1024) {
    if (!socket.write(data.subarray(at, at + 256 * 1024)))
      await new Promise((resolve) => socket.once('drain', resolve));
  }
  const digest = await received;
  const seconds = (performance.now() - start) / 1000;
  if (hashed) check(digest ?? '', sha256);
  const cpuPerMb = cpuMs(cpu) / MB;
  socket.destroy();
  await new Promise((resolve) => listener.close(resolve));
  return { mbps: MB / seconds, cpuPerMb };
}

type Round = { mbps: number; cpuPerMb: number };

/** One warm-up round of each, then ROUNDS rounds taking turns (so the machine's drift hits all alike). */
async function alternate(...paths: (() => Promise<Round>)[]): Promise<Round[][]> {
  for (const path of paths) await path();
  const rounds: Round[][] = paths.map(() => []);
  for (let r = 0; r < ROUNDS; r++) for (const [i, path] of paths.entries()) rounds[i]!.push(await path());
  return rounds;
}

/** The same bytes over TLS-PSK AES-256-GCM, hashed by the receiver: the floor of any encrypted, verified transfer. */
async function secureRound(): Promise<Round> {
  const psk = newPsk();
  const { listener, port, received } = await secureSink(data.length, psk);
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all([secureWrite(port, psk, data), received.then((h) => check(h, sha256))]);
  const seconds = (performance.now() - start) / 1000;
  const cpuPerMb = cpuMs(cpu) / MB;
  await new Promise((resolve) => listener.close(resolve));
  return { mbps: MB / seconds, cpuPerMb };
}

function check(got: string, expected: string): void {
  if (got !== expected) throw new Error('the secured copy arrived different');
}

const [g2g, tcp, hashedTcp, secure] = (await alternate(
  fileRound,
  () => tcpRound(),
  () => tcpRound(true),
  secureRound,
)) as [Round[], Round[], Round[], Round[]];
const best = (rows: { mbps: number; cpuPerMb: number }[]) => rows.reduce((a, b) => (b.mbps > a.mbps ? b : a));
const median = (rows: { mbps: number }[]) =>
  [...rows].sort((a, b) => a.mbps - b.mbps)[rows.length >> 1]!.mbps;
const g2gBest = best(g2g);
const tcpBest = best(tcp);
const secureBest = best(secure);
const hashedTcpBest = best(hashedTcp);
// Every round (and the warm-up) on the data channel, or the figures are not the data channel's.
const channelsLocal = alice.dataChannelStats.opened;

await carol.close();
await alice.close();
await bob.close();
await gateway.close();
await server.close();

// ------------------------------------------------------------------ the protocol alone

/**
 * CPU per MiB of the file protocol itself, no transport: a `FileSender` and a `FileReceiver` fed
 * each other's frames on this thread (the receiver's one hashing pass included, the offer's digests
 * computed beforehand as `sendFile` does). What is left of getFile's cost is the transport's.
 */
function protocolRound(): number {
  const file = digestBytes(data);
  const offer: FileOfferEvent = {
    kind: 'file-offer',
    id: 'bench',
    from: { user: 'alice', network: 'aol' },
    to: bobAddress,
    name: 'bench.bin',
    size: data.length,
    sha256,
  };
  const cpu = process.cpuUsage();
  const receiver = new FileReceiver({ offer, offset: 0 });
  const sender = new FileSender();
  sender.receive(receiver.start());
  let done = false;
  const feed = (pieces: Uint8Array[]) => {
    for (const piece of pieces) {
      const step = receiver.receive(piece);
      for (const written of step.write)
        for (const frame of receiver.wrote(written.length).send) sender.receive(frame);
      if (step.error) throw step.error;
      if (step.done) done = true;
    }
  };
  feed(sender.accept(file).send);
  for (let read = sender.nextRead(); read; read = sender.nextRead())
    feed(sender.chunk(read, data.subarray(read.offset, read.offset + read.length)).send);
  if (!done) throw new Error('the protocol did not finish');
  return cpuMs(cpu) / MB;
}
protocolRound();
const protocol = Array.from({ length: ROUNDS }, protocolRound).sort((a, b) => a - b);

// ------------------------------------------------------------------ getFile across processes

// The scenario: sender and receiver on different hosts. Here two processes on one machine:
// the sender (alice) in a child process, the receiver (bob) in this one, each with its own event
// loop; the directory on a hyperdht testnet, G2G over TCP with Noise as above. The plain copy runs
// between the same two processes (the child writes, this process reads), so both sides of the
// comparison have a process at each end.
const testnet = await startTestnet({ size: 5 });
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--conditions=@crosstalk/source',
    fileURLToPath(new URL('./lib/file-sender-process.ts', import.meta.url)),
    JSON.stringify({ mb: MB, bootstrap: testnet.bootstrap }),
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const replies: Record<string, unknown>[] = [];
let replied: (() => void) | undefined;
createInterface({ input: child.stdout! }).on('line', (line) => {
  replies.push(JSON.parse(line) as Record<string, unknown>);
  replied?.();
});
/** The child's next reply carrying `key`. */
async function reply<T>(key: string): Promise<T> {
  for (;;) {
    const at = replies.findIndex((r) => key in r);
    if (at >= 0) return replies.splice(at, 1)[0]![key] as T;
    await new Promise<void>((resolve) => {
      replied = resolve;
    });
  }
}
const tell = (command: object) => child.stdin!.write(`${JSON.stringify(command)}\n`);
const childCpu = async () => {
  tell({ cpu: true });
  return reply<number>('cpu');
};

const { sha256: remoteSha } = await reply<{ sha256: string }>('ready');
const remoteDht = new HyperDhtStore({ bootstrap: testnet.bootstrap, host: '127.0.0.1' });
await remoteDht.ready();
const bobRemote = await createClient({ identity: { address: bobAddress }, network: 'aol', dht: remoteDht });
const remoteOffers: FileOfferEvent[] = [];
bobRemote.on('file-offer', (o) => remoteOffers.push(o));

async function remoteFileRound(): Promise<{ mbps: number; cpuPerMb: number }> {
  tell({ offer: 'bob@aol' });
  const id = await reply<string>('offered');
  while (!remoteOffers.some((o) => o.id === id)) await new Promise((r) => setTimeout(r, 5));
  const theirs = await childCpu();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await bobRemote.getFile(remoteOffers.find((o) => o.id === id)!, countingSink());
  const seconds = (performance.now() - start) / 1000;
  const mine = cpuMs(cpu);
  if (result.sha256 !== remoteSha) throw new Error('the file arrived different');
  const cpuPerMb = (mine + (await childCpu()) - theirs) / MB;
  tell({ withdraw: id });
  await reply('withdrawn');
  return { mbps: MB / seconds, cpuPerMb };
}

async function remoteTcpRound(hashed = false): Promise<{ mbps: number; cpuPerMb: number }> {
  const { listener, received } = await byteSink(MB * 1024 * 1024, hashed);
  const { port } = listener.address() as net.AddressInfo;
  const theirs = await childCpu();
  const cpu = process.cpuUsage();
  const start = performance.now();
  tell({ tcp: port });
  const digest = await received;
  if (hashed) check(digest ?? '', remoteSha);
  const seconds = (performance.now() - start) / 1000;
  const mine = cpuMs(cpu);
  await reply('copied');
  const cpuPerMb = (mine + (await childCpu()) - theirs) / MB;
  await new Promise((resolve) => listener.close(resolve));
  return { mbps: MB / seconds, cpuPerMb };
}

async function remoteSecureRound(): Promise<Round> {
  const psk = newPsk();
  const { listener, port, received } = await secureSink(MB * 1024 * 1024, psk);
  const theirs = await childCpu();
  const cpu = process.cpuUsage();
  const start = performance.now();
  tell({ tls: port, psk });
  check(await received, remoteSha);
  const seconds = (performance.now() - start) / 1000;
  const mine = cpuMs(cpu);
  await reply('copied');
  const cpuPerMb = (mine + (await childCpu()) - theirs) / MB;
  await new Promise((resolve) => listener.close(resolve));
  return { mbps: MB / seconds, cpuPerMb };
}

const [g2gRemote, tcpRemote, hashedTcpRemote, secureRemote] = (await alternate(
  remoteFileRound,
  () => remoteTcpRound(),
  () => remoteTcpRound(true),
  remoteSecureRound,
)) as [Round[], Round[], Round[], Round[]];
const hashedTcpRemoteBest = best(hashedTcpRemote);
const secureRemoteBest = best(secureRemote);
const g2gRemoteBest = best(g2gRemote);
const tcpRemoteBest = best(tcpRemote);
tell({ channels: true });
const channelsRemote = await reply<number>('channels');
child.stdin!.end();
await new Promise((resolve) => child.once('exit', resolve));
await bobRemote.close();
await remoteDht.close();
await testnet.destroy();

// ------------------------------------------------------------------ report

const ms = (n: number) => n.toFixed(2);
publish(
  [
    '',
    '## Client API: sendIM beside a SOCKS gateway, getFile beside a plain TCP copy',
    '',
    `- machine: ${machineLine('both ends in one process, then getFile and the copy across two')}`,
    `- command: \`npx tsx --conditions=@crosstalk/source bench/client-api.ts --ims ${IMS} --mb ${MB} --rounds ${ROUNDS}\``,
    `- sendIM: ${IMS} IMs one at a time (after ${WARMUP} of warm-up each), alternating halves, each awaited at`,
    '  the recipient, a client-API user (bob@aol, a node of his own). "Client API": from alice@aol,',
    '  another client-API node (the shim\'s path to users of other networks), G2G over TCP with Noise. "SOCKS',
    '  gateway": from carol@yahoo, a scripted YMSG client through a SOCKS gateway (SOCKS relay, the YMSG',
    '  codec session withholding the message from its server, translation, then G2G). CPU: the whole',
    '  process (both ends, the gateway, the mock YMSG server) per IM.',
    `- getFile: ${MB} MiB of random bytes, ${ROUNDS} rounds alternating with a plain TCP copy of the same bytes`,
    '  (256 KiB writes, waiting for drain); the offer hashed beforehand by sendFile (its SHA-256 and',
    '  chunk-hash list in one pass, not timed); getFile timed from the request to the SHA-256 checked.',
    '  CPU: the process, per MiB. "Secured copy": the same bytes over TLS 1.2 with a pre-shared key and',
    '  AES-256-GCM (node:tls, OpenSSL), the receiver hashing them with SHA-256: what any transfer that',
    '  encrypts, authenticates and checks a digest costs here at the least (no file protocol, no G2G).',
    '  "Hashed copy": the plain copy with the receiver computing the SHA-256 getFile checks, nothing else.',
    `- data channels (TLS-PSK) the sender opened: ${channelsLocal} for ${ROUNDS + 1} getFile rounds in one process,`,
    `  ${channelsRemote} for ${ROUNDS + 1} across two (warm-up included).`,
    '',
    '| sendIM | p50 (ms) | p90 (ms) | p99 (ms) | CPU per IM (ms) |',
    '|---|---:|---:|---:|---:|',
    `| client API | ${ms(pct(api, 0.5))} | ${ms(pct(api, 0.9))} | ${ms(pct(api, 0.99))} | ${ms(apiCpu)} |`,
    `| SOCKS gateway | ${ms(pct(socks, 0.5))} | ${ms(pct(socks, 0.9))} | ${ms(pct(socks, 0.99))} | ${ms(socksCpu)} |`,
    `| ratio (API / SOCKS) | ${(pct(api, 0.5) / pct(socks, 0.5)).toFixed(2)} | ${(pct(api, 0.9) / pct(socks, 0.9)).toFixed(2)} | ${(pct(api, 0.99) / pct(socks, 0.99)).toFixed(2)} | ${(apiCpu / socksCpu).toFixed(2)} |`,
    '',
    '| file | best MiB/s | median MiB/s | CPU per MiB at best (ms) |',
    '|---|---:|---:|---:|',
    `| getFile (client API, G2G) | ${g2gBest.mbps.toFixed(1)} | ${median(g2g).toFixed(1)} | ${g2gBest.cpuPerMb.toFixed(2)} |`,
    `| plain TCP copy | ${tcpBest.mbps.toFixed(1)} | ${median(tcp).toFixed(1)} | ${tcpBest.cpuPerMb.toFixed(2)} |`,
    `| plain TCP copy + receiver SHA-256 | ${hashedTcpBest.mbps.toFixed(1)} | ${median(hashedTcp).toFixed(1)} | ${hashedTcpBest.cpuPerMb.toFixed(2)} |`,
    `| TLS-PSK AES-256-GCM copy + receiver SHA-256 | ${secureBest.mbps.toFixed(1)} | ${median(secure).toFixed(1)} | ${secureBest.cpuPerMb.toFixed(2)} |`,
    `| ratio (getFile / TCP) | ${(g2gBest.mbps / tcpBest.mbps).toFixed(2)} | ${(median(g2g) / median(tcp)).toFixed(2)} | |`,
    `| ratio (hashed copy / TCP) | ${(hashedTcpBest.mbps / tcpBest.mbps).toFixed(2)} | ${(median(hashedTcp) / median(tcp)).toFixed(2)} | |`,
    `| ratio (secured copy / TCP): the floor's share | ${(secureBest.mbps / tcpBest.mbps).toFixed(2)} | ${(median(secure) / median(tcp)).toFixed(2)} | |`,
    '',
    `The protocol alone (FileSender and FileReceiver on one thread, no transport, ${ROUNDS} rounds):`,
    `${protocol[0]!.toFixed(2)} ms of CPU per MiB at best, ${protocol[protocol.length >> 1]!.toFixed(2)} median.`,
    '',
    `Across processes: the sender (and the writing end of the plain copy) in a child process, the`,
    `receiver (and the reading end) in this one; ${ROUNDS} rounds of each, alternating. CPU: both processes, per MiB.`,
    '',
    '| file, two processes | best MiB/s | median MiB/s | CPU per MiB at best (ms) |',
    '|---|---:|---:|---:|',
    `| getFile (client API, G2G) | ${g2gRemoteBest.mbps.toFixed(1)} | ${median(g2gRemote).toFixed(1)} | ${g2gRemoteBest.cpuPerMb.toFixed(2)} |`,
    `| plain TCP copy | ${tcpRemoteBest.mbps.toFixed(1)} | ${median(tcpRemote).toFixed(1)} | ${tcpRemoteBest.cpuPerMb.toFixed(2)} |`,
    `| plain TCP copy + receiver SHA-256 | ${hashedTcpRemoteBest.mbps.toFixed(1)} | ${median(hashedTcpRemote).toFixed(1)} | ${hashedTcpRemoteBest.cpuPerMb.toFixed(2)} |`,
    `| TLS-PSK AES-256-GCM copy + receiver SHA-256 | ${secureRemoteBest.mbps.toFixed(1)} | ${median(secureRemote).toFixed(1)} | ${secureRemoteBest.cpuPerMb.toFixed(2)} |`,
    `| ratio (getFile / TCP) | ${(g2gRemoteBest.mbps / tcpRemoteBest.mbps).toFixed(2)} | ${(median(g2gRemote) / median(tcpRemote)).toFixed(2)} | |`,
    `| ratio (hashed copy / TCP) | ${(hashedTcpRemoteBest.mbps / tcpRemoteBest.mbps).toFixed(2)} | ${(median(hashedTcpRemote) / median(tcpRemote)).toFixed(2)} | |`,
    `| ratio (secured copy / TCP): the floor's share | ${(secureRemoteBest.mbps / tcpRemoteBest.mbps).toFixed(2)} | ${(median(secureRemote) / median(tcpRemote)).toFixed(2)} | |`,
    '',
  ].join('\n'),
);
process.exit(0);
