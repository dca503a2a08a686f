/**
 * What splitting one relay into two processes costs per message on this machine, with no CrossTalk
 * code at all: the same traffic through one relay process, then through two that pass half of it
 * to each other over a loopback TCP link, as two workers of a `--workers 2` host pass messages
 * between their users over G2G. A check of docs/benchmarks.md's reading of the host's extra CPU
 * ("A host of two workers on two cores"): wake-ups between processes, not the gateway's own work.
 *
 * Three layouts, alternating: one relay; two relays in one process, linked over loopback TCP (as
 * the bench's two gateways of one process are over G2G); two relays in a process each.
 *
 * Each client is a TCP connection to its relay; a message is a 4-byte length, a 2-byte recipient
 * index and a payload. A relay writes it to the recipient's socket if it holds that client, else
 * to the other relay, which does. The load (this process) sends `--rate` messages a second, each
 * from a random client to another, for `--seconds`, and counts the relays' CPU (/proc) per message.
 *
 *   npx tsx bench/process-split.ts [--clients 520] [--rate 520] [--seconds 20] [--runs 2]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '520' },
    rate: { type: 'string', default: '520' },
    seconds: { type: 'string', default: '20' },
    runs: { type: 'string', default: '2' },
    relay: { type: 'string' },
  },
});

const HEADER = 6;
const PAYLOAD = 150;

/** Splits a byte stream into frames (length u32, then the frame), calling `frame` for each. */
function framer(frame: (bytes: Buffer) => void): (chunk: Buffer) => void {
  let carry: Buffer = Buffer.alloc(0);
  return (chunk) => {
    carry = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    while (carry.length >= 4) {
      const length = carry.readUInt32BE(0);
      if (carry.length < 4 + length) break;
      frame(carry.subarray(0, 4 + length));
      carry = carry.subarray(4 + length);
    }
  };
}

/** Relay `index` of `count` (client c belongs to relay c % count); resolves with its port. */
async function relay(index: number, count: number, peerPort?: Promise<number>): Promise<number> {
  const clients = new Map<number, Socket>();
  let peer: Socket | undefined;
  const route = (frame: Buffer) => {
    const to = frame.readUInt16BE(4);
    if (to % count === index) clients.get(to)?.write(frame);
    else peer?.write(frame);
  };
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    // The first frame names the client (or, with index 0xffff, the other relay).
    let named = false;
    socket.on(
      'data',
      framer((frame) => {
        if (named) return route(frame);
        named = true;
        const who = frame.readUInt16BE(4);
        if (who === 0xffff) peer = socket;
        else clients.set(who, socket);
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // Relay 0 dials relay 1 (in this process or another) once it knows its port.
  void peerPort?.then((port) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.write(frameFor(0xffff, 0));
    peer = socket;
    socket.on('data', framer(route));
  });
  return (server.address() as { port: number }).port;
}

/**
 * A relay process serving `indices` of `count` relays: one (a process each) or both (two relays in
 * one process, linked over loopback TCP as two gateways of one process are over G2G).
 */
async function relayProcess(indices: number[], count: number): Promise<void> {
  let toPeer: (port: number) => void = () => {};
  const peerPort = new Promise<number>((resolve) => {
    toPeer = resolve;
  });
  const ports: number[] = [];
  for (const index of indices)
    ports.push(await relay(index, count, index === 0 && count === 2 ? peerPort : undefined));
  if (indices.length === 2) toPeer(ports[1]!);
  else process.on('message', (m: { peer?: number }) => m.peer !== undefined && toPeer(m.peer));
  process.send!({ ports });
}

function frameFor(to: number, size: number): Buffer {
  const frame = Buffer.alloc(HEADER + size, 0x61);
  frame.writeUInt32BE(2 + size, 0);
  frame.writeUInt16BE(to, 4);
  return frame;
}

/** CPU µs a process used so far (utime + stime from /proc, in clock ticks of 10 ms). */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** `layout`: one relay; two relays in one process; two relays in a process each. */
type Layout = 'one' | 'two-in-one' | 'two-apart';

async function run(layout: Layout, clients: number, rate: number, seconds: number) {
  const here = fileURLToPath(import.meta.url);
  const count = layout === 'one' ? 1 : 2;
  const groups = layout === 'two-apart' ? ['0', '1'] : layout === 'two-in-one' ? ['0,1'] : ['0'];
  const relays: ChildProcess[] = [];
  const ports: number[] = [];
  for (const group of groups) {
    const child = fork(here, ['--relay', `${group}/${count}`], { execArgv: process.execArgv });
    relays.push(child);
    ports.push(
      ...(await new Promise<number[]>((resolve) =>
        child.once('message', (m: { ports: number[] }) => resolve(m.ports)),
      )),
    );
  }
  if (layout === 'two-apart') relays[0]!.send({ peer: ports[1] });
  const sockets: Socket[] = [];
  let received = 0;
  for (let c = 0; c < clients; c++) {
    const socket = connect(ports[c % count]!, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(frameFor(c, 0));
    socket.on(
      'data',
      framer(() => {
        received++;
      }),
    );
    sockets.push(socket);
  }
  await new Promise((r) => setTimeout(r, 500));
  const before = relays.map((r) => cpuOf(r.pid!));
  const total = rate * seconds;
  let sent = 0;
  const started = Date.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate));
      while (sent < due) {
        const from = Math.floor(Math.random() * clients);
        let to = Math.floor(Math.random() * (clients - 1));
        if (to >= from) to++;
        sockets[from]!.write(frameFor(to, PAYLOAD));
        sent++;
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  while (received < total) await new Promise((r) => setTimeout(r, 20));
  const cpu = relays.reduce((sum, r, i) => sum + cpuOf(r.pid!) - before[i]!, 0);
  for (const s of sockets) s.destroy();
  for (const r of relays) r.kill();
  return cpu / total;
}

if (values.relay) {
  const [indices, count] = values.relay.split('/');
  await relayProcess(indices!.split(',').map(Number), Number(count));
} else {
  const clients = Number(values.clients);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  console.log(
    `${clients} clients, ${rate} messages/s of ${PAYLOAD} bytes, ${seconds} s, ${runs} run(s) each, alternating`,
  );
  const layouts: [Layout, string][] = [
    ['one', 'one relay'],
    ['two-in-one', 'two relays in one process (half the messages cross between them)'],
    ['two-apart', 'two relays, a process each (half the messages cross between them)'],
  ];
  const results = new Map<Layout, number[]>(layouts.map(([l]) => [l, []]));
  for (let i = 0; i < runs; i++)
    for (const [layout] of layouts) results.get(layout)!.push(await run(layout, clients, rate, seconds));
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const [layout, label] of layouts)
    console.log(`${label}: ${fmt(results.get(layout)!)} µs of CPU per message`);
  const ratio = mean(results.get('two-apart')!) / mean(results.get('two-in-one')!);
  console.log(`two processes against two relays in one process: ${ratio.toFixed(2)}x`);
  process.exit(0);
}
