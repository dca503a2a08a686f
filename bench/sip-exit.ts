/**
 * Call setup through SIP exits with the registration found in the DHT (P2PSIP), against the SCOPE
 * paper's figures: a sipp UAS registers (digest) at exit B; a caller sends INVITEs to exit A, which
 * looks the callee up in the directory (HyperDhtStore on a hyperdht testnet) on every call and
 * forwards to B, which forwards to the phone. Measured per call: INVITE sent to 200 OK received at
 * the caller (setup), and exit A's DHT lookup inside it (the DHT's share). Beside it, the same calls
 * with the callee registered at exit A itself (no DHT). Testnets of several sizes in one run.
 *
 *   npx tsx --conditions=@crosstalk/source bench/sip-exit.ts [--sizes 10,50,100,200] [--calls 200]
 *                                                          [--append docs/benchmarks.md]
 *
 * Needs sipp (Debian's sip-tester). Every DHT node, both exits and the caller run in this process on
 * 127.0.0.1 (a DHT round trip costs the event loop's time, not wire time); sipp runs in its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { Dht } from '@crosstalk/core';
import { generateIdentity } from '@crosstalk/gateway';
import { HyperDhtStore, startTestnet } from '@crosstalk/network-hyperdht';
import { createSipExit, digestResponse, parseAuthValue, type SipExit } from '@crosstalk/sip-exit';
import { machineLine, publish } from './lib/harness.js';

const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? (process.argv[at + 1] as string) : fallback;
};
const SIZES = arg('sizes', '10,50,100,200').split(',').map(Number);
const CALLS = Number(arg('calls', '200'));
const WARMUP = 10;
const DOMAIN = 'sip.bench.test';
const USERS = { service: 'service-pw' };
const SDP =
  'v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

// ------------------------------------------------------------ a DHT that times its reads

/** The exit's DHT, with every `get` timed (the exit does one per call it routes through the directory). */
function timedDht(inner: Dht, reads: number[]): Dht {
  return {
    limits: inner.limits,
    put: (key, value, options) => inner.put(key, value, options),
    async get(key) {
      const start = performance.now();
      try {
        return await inner.get(key);
      } finally {
        reads.push(performance.now() - start);
      }
    },
    remove: (key, value, secret) => inner.remove(key, value, secret),
    close: () => inner.close(),
  };
}

// ------------------------------------------------------------ a raw SIP caller

async function freePort(): Promise<number> {
  for (;;) {
    const udp = createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    const port = udp.address().port;
    const tcp = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    udp.close();
    if (ok) {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      return port;
    }
  }
}

interface Response {
  status: number;
  headers: Map<string, string[]>;
  at: number;
}

/** A UDP user agent speaking just enough SIP for the bench: requests, and the responses to them by Call-ID and CSeq. */
class Caller {
  readonly socket: Socket;
  readonly port: number;
  #waiting = new Map<string, (r: Response) => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    this.port = socket.address().port;
    socket.on('message', (bytes) => {
      const at = performance.now();
      const text = bytes.toString('utf8');
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      const [start, ...lines] = head.split('\r\n');
      const status = Number(/^SIP\/2\.0 (\d{3})/.exec(start ?? '')?.[1] ?? 0);
      if (status === 0) return;
      const headers = new Map<string, string[]>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
      }
      if (status < 200) return;
      const key = `${headers.get('call-id')?.[0]}|${headers.get('cseq')?.[0]}`;
      this.#waiting.get(key)?.({ status, headers, at });
    });
  }

  static async open(): Promise<Caller> {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    return new Caller(socket);
  }

  /** Sends a request to `port` and resolves with its final response. */
  request(port: number, method: string, uri: string, headers: string[], body = ''): Promise<Response> {
    const callId = headers.find((h) => h.startsWith('Call-ID: '))?.slice(9);
    const cseq = headers.find((h) => h.startsWith('CSeq: '))?.slice(6);
    const done = new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no final response to ${method}`)), 10_000);
      this.#waiting.set(`${callId}|${cseq}`, (r) => {
        clearTimeout(timer);
        this.#waiting.delete(`${callId}|${cseq}`);
        resolve(r);
      });
    });
    this.send(port, method, uri, headers, body);
    return done;
  }

  send(port: number, method: string, uri: string, headers: string[], body = ''): void {
    const branch = `z9hG4bK${randomUUID().replaceAll('-', '')}`;
    const text = [
      `${method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      ...headers,
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
    this.socket.send(Buffer.from(text), port, '127.0.0.1');
  }

  /** REGISTERs `user` at `port` for `contact`, answering the digest challenge. */
  async register(port: number, user: keyof typeof USERS, contact: string): Promise<void> {
    const callId = `${randomUUID()}@bench`;
    const uri = `sip:127.0.0.1:${port}`;
    const base = (seq: number) => [
      `From: <sip:${user}@127.0.0.1:${port}>;tag=r${seq}`,
      `To: <sip:${user}@127.0.0.1:${port}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${seq} REGISTER`,
      `Contact: <${contact}>`,
      'Expires: 3600',
    ];
    const challenge = await this.request(port, 'REGISTER', uri, base(1));
    const params = parseAuthValue(challenge.headers.get('www-authenticate')?.[0] ?? '').params;
    const nonce = params.get('nonce') as string;
    const response = digestResponse({
      user,
      realm: DOMAIN,
      password: USERS[user],
      method: 'REGISTER',
      uri,
      nonce,
      qop: { nc: '00000001', cnonce: 'bench' },
    });
    const authorization = `Authorization: Digest username="${user}", realm="${DOMAIN}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="bench"`;
    const ok = await this.request(port, 'REGISTER', uri, [...base(2), authorization]);
    if (ok.status !== 200) throw new Error(`REGISTER answered ${ok.status}`);
  }

  /** One call: INVITE, 200 (the setup time; `answered` is called then), ACK and BYE along the route set. */
  async call(port: number, user: string, answered: () => void = () => {}): Promise<number> {
    const callId = `${randomUUID()}@bench`;
    const from = `From: <sip:caller@127.0.0.1:${this.port}>;tag=${randomUUID().slice(0, 8)}`;
    const uri = `sip:${user}@${DOMAIN}`;
    const start = performance.now();
    const ok = await this.request(
      port,
      'INVITE',
      uri,
      [
        from,
        `To: <${uri}>`,
        `Call-ID: ${callId}`,
        'CSeq: 1 INVITE',
        `Contact: <sip:caller@127.0.0.1:${this.port}>`,
      ],
      SDP,
    );
    const setup = ok.at - start;
    answered();
    if (ok.status !== 200) throw new Error(`INVITE answered ${ok.status}`);
    // RFC 3261 §12.1.2: the route set is the Record-Route reversed, the remote target the Contact.
    // sipp's UAS copies no Record-Route and answers every request of a call to where its INVITE came
    // from, so without a route set the dialog's requests go to the AOR, the INVITE's way (as sipp's UAC does).
    const routes = (ok.headers.get('record-route') ?? []).flatMap((v) => v.split(/,\s*(?=<)/)).reverse();
    const contact = /<([^>]+)>/.exec(ok.headers.get('contact')?.[0] ?? '')?.[1];
    const target = routes.length > 0 && contact ? contact : uri;
    const to = `To: ${ok.headers.get('to')?.[0]}`;
    const inDialog = (seq: number, method: string) => [
      ...routes.map((r) => `Route: ${r}`),
      from,
      to,
      `Call-ID: ${callId}`,
      `CSeq: ${seq} ${method}`,
    ];
    this.send(port, 'ACK', target, inDialog(1, 'ACK'));
    const bye = await this.request(port, 'BYE', target, inDialog(2, 'BYE'));
    if (bye.status !== 200) throw new Error(`BYE answered ${bye.status}`);
    return setup;
  }

  close(): void {
    this.socket.close();
  }
}

// ------------------------------------------------------------ one testnet

interface Row {
  nodes: number;
  setup: number[];
  dht: number[];
  share: number[];
  /** DHT reads between INVITE and 200 per call (one: the exit keeps no cache of `sip:<aor>`). */
  reads: number[];
  local: number[];
}

const quantile = (xs: readonly number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ms = (n: number) => n.toFixed(1);
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const pct = (n: number) => `${(100 * n).toFixed(1)}%`;
/** p50 / p90, as the bench's tables give every time. */
const spread = (xs: readonly number[]) => `${ms(quantile(xs, 0.5))} / ${ms(quantile(xs, 0.9))}`;

async function startUas(port: number, calls: number): Promise<ChildProcess> {
  const child = spawn(
    'sipp',
    [
      '-sn',
      'uas',
      '-i',
      '127.0.0.1',
      '-p',
      String(port),
      '-m',
      String(calls),
      '-nostdin',
      '-timeout',
      '600s',
      ...(process.env.SIP_BENCH_DEBUG ? ['-trace_msg', '-trace_err'] : []),
    ],
    { stdio: 'ignore' },
  );
  await new Promise((r) => setTimeout(r, 300));
  return child;
}

async function measure(nodes: number): Promise<Row> {
  process.stderr.write(`testnet of ${nodes} nodes...\n`);
  const testnet = await startTestnet({ size: nodes });
  const namespace = randomUUID();
  const storeA = new HyperDhtStore({ bootstrap: testnet.bootstrap, namespace });
  const storeB = new HyperDhtStore({ bootstrap: testnet.bootstrap, namespace });
  await Promise.all([storeA.ready(), storeB.ready()]);
  const reads: number[] = [];
  const start = (dht: Dht): Promise<SipExit> =>
    createSipExit({
      identity: generateIdentity(),
      dht,
      domain: DOMAIN,
      host: '127.0.0.1',
      udpPort: 0,
      tcpPort: 0,
      users: USERS,
      advertise: false,
      allowTarget: (d) => d.host === '127.0.0.1',
      ...(process.env.SIP_BENCH_DEBUG ? { onEvent: (e) => console.error(JSON.stringify(e)) } : {}),
    });
  const exitA = await start(timedDht(storeA, reads));
  const exitB = await start(storeB);
  const caller = await Caller.open();
  const portA = exitA.addresses.udpPort as number;
  const portB = exitB.addresses.udpPort as number;
  const row: Row = { nodes, setup: [], dht: [], share: [], reads: [], local: [] };
  try {
    // Through the directory: the phone at exit B, the caller at exit A.
    const uasPort = await freePort();
    const uas = await startUas(uasPort, 2 * (CALLS + WARMUP));
    await caller.register(portB, 'service', `sip:service@127.0.0.1:${uasPort}`);
    for (let i = 0; i < CALLS + WARMUP; i++) {
      const before = reads.length;
      let during = 0;
      // Only the reads between INVITE and 200 (the ACK and BYE, sent to the AOR, look it up again).
      const setup = await caller.call(portA, 'service', () => {
        during = reads.length;
      });
      const dht = reads.slice(before, during).reduce((a, b) => a + b, 0);
      if (i < WARMUP) continue;
      row.setup.push(setup);
      row.dht.push(dht);
      row.share.push(dht / setup);
      row.reads.push(during - before);
    }
    // Without the directory: the same phone registered at exit A itself.
    await caller.register(portA, 'service', `sip:service@127.0.0.1:${uasPort}`);
    for (let i = 0; i < CALLS + WARMUP; i++) {
      const setup = await caller.call(portA, 'service');
      if (i >= WARMUP) row.local.push(setup);
    }
    uas.kill('SIGTERM');
  } finally {
    caller.close();
    await exitA.close();
    await exitB.close();
    await storeA.close();
    await storeB.close();
    await testnet.destroy();
  }
  process.stderr.write(
    `  ${nodes} nodes: setup p50 ${ms(quantile(row.setup, 0.5))} ms, DHT p50 ${ms(quantile(row.dht, 0.5))} ms, share ${pct(sum(row.dht) / sum(row.setup))}\n`,
  );
  return row;
}

const rows: Row[] = [];
for (const size of SIZES) rows.push(await measure(size));

const lookups = rows.map((r) => quantile(r.dht, 0.5));
const shares = rows.map((r) => sum(r.dht) / sum(r.setup));
const section = [
  '',
  '## sip-exit: call setup through two exits, the registration found in the DHT',
  '',
  `- machine: ${machineLine('all in one process but sipp')}`,
  `- command: \`npx tsx --conditions=@crosstalk/source bench/sip-exit.ts --sizes ${SIZES.join(',')} --calls ${CALLS}\``,
  `- workload: per testnet, a sipp UAS registered (digest) at exit B; ${CALLS} calls one after another (after ${WARMUP} warm-up calls) from a caller at exit A, which looks the callee up in the directory (HyperDhtStore, no cache: a full hyperdht lookup per call) and forwards over TCP to exit B, which forwards to the phone. Setup: INVITE sent to 200 OK received at the caller; DHT: exit A's directory reads inside it (timed around the Dht's \`get\`); share: total DHT time / total setup time, and the median of the per-call shares. "Same exit": the phone registered at exit A itself, no DHT read. Every DHT node, both exits and the caller in this process on 127.0.0.1; sipp in its own.`,
  '',
  '| nodes | setup p50 / p90 (ms) | DHT lookup p50 / p90 (ms) | DHT reads per call | DHT share of setup: total (median of calls) | same exit, no DHT: setup p50 / p90 (ms) |',
  '|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r, i) =>
      `| ${r.nodes} | ${spread(r.setup)} | ${spread(r.dht)} | ${mean(r.reads).toFixed(2)} | ${pct(shares[i] as number)} (${pct(quantile(r.share, 0.5))}) | ${spread(r.local)} |`,
  ),
  '',
  'Beside the SCOPE paper (seed 002):',
  '',
  '| | SCOPE paper | here |',
  '|---|---:|---:|',
  `| network sizes | 9 to 72 nodes | ${SIZES[0]} to ${SIZES[SIZES.length - 1]} nodes |`,
  `| DHT operation (lookup) | 8 to 32 ms | ${ms(Math.min(...lookups))} to ${ms(Math.max(...lookups))} ms (p50) |`,
  `| DHT share of call setup | 19.8% | ${pct(Math.min(...shares))} to ${pct(Math.max(...shares))} |`,
  '',
  "SCOPE measured over a real network, where each DHT hop costs wire time; here every node is on loopback in one process, so a lookup is its rounds of event-loop work and the rest of the setup (two exits, the phone) is local work too: both are far smaller than SCOPE's, and the share is the ratio of two small numbers, not a prediction of the share over a wide-area network.",
  '',
].join('\n');
publish(section);
