import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CapturedStream, tcpStreamsFromPcap } from '../capture/tcp-streams.js';
import { type CapturedDatagram, udpDatagramsFromPcap } from '../capture/udp-datagrams.js';

/**
 * Live captures on the loopback interface with dumpcap (Wireshark's capture engine), for tests that
 * must show what really crosses a socket (e.g. that a link carries no text in clear). Capturing
 * needs root or dumpcap's capabilities, which tests have here and in CI.
 */
export interface LoopbackCaptureOptions {
  /** TCP ports whose traffic is captured (either end). */
  ports: readonly number[];
  /**
   * UDP traffic to capture too: these ports (either end), or `all` of it (hyperdht's streams run
   * over sockets of their own, on ports nobody publishes). Default none.
   */
  udp?: readonly number[] | 'all';
  /** Interface to capture on. Default `lo`. */
  interface?: string;
  /** ms to wait for dumpcap to start and for the capture to catch up at `stop`. Default 30 s. */
  timeout?: number;
}

/** A running capture of loopback traffic (`captureLoopback`). */
export interface LoopbackCapture {
  /** The pcapng file being written. */
  readonly file: string;
  /**
   * Ends the capture once everything sent before the call is in the file, and returns the TCP
   * streams on the captured ports (reassembled by tshark).
   */
  stop(): Promise<CapturedStream[]>;
  /** After `stop`: the UDP datagrams captured (with `udp`), in capture order. */
  datagrams(): CapturedDatagram[];
  /** Stops dumpcap if it runs and removes the file. */
  dispose(): Promise<void>;
}

let permitted: boolean | undefined;

/** True when dumpcap and tshark are installed and this process may capture (root). */
export function liveCaptureAvailable(): boolean {
  if (permitted === undefined) {
    try {
      execFileSync('dumpcap', ['--version'], { stdio: 'ignore' });
      execFileSync('tshark', ['--version'], { stdio: 'ignore' });
      permitted = process.getuid?.() === 0;
    } catch {
      permitted = false;
    }
  }
  return permitted;
}

/**
 * Starts dumpcap on `lo` for the given ports and resolves once it is capturing: a marker sent to a
 * port of the capture's own is in the file. `stop` sends another marker and waits for it, so
 * packets still in the kernel's capture buffer are not lost.
 */
export async function captureLoopback(options: LoopbackCaptureOptions): Promise<LoopbackCapture> {
  const timeout = options.timeout ?? 30_000;
  const dir = await mkdtemp(join(tmpdir(), 'crosstalk-capture-'));
  const file = join(dir, 'capture.pcapng');
  const markerServer: Server = createServer((s) => {
    s.on('error', () => {});
    s.resume();
  });
  markerServer.listen(0, '127.0.0.1');
  await once(markerServer, 'listening');
  const markerPort = (markerServer.address() as { port: number }).port;
  const udp =
    options.udp === undefined
      ? []
      : options.udp === 'all'
        ? ['udp']
        : options.udp.map((p) => `udp port ${p}`);
  const filter = [...[...options.ports, markerPort].map((p) => `tcp port ${p}`), ...udp].join(' or ');
  const dumpcap: ChildProcess = spawn(
    'dumpcap',
    ['-q', '-i', options.interface ?? 'lo', '-f', filter, '-w', file],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  dumpcap.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = once(dumpcap, 'exit').catch(() => undefined);

  const sendMarker = async (): Promise<Buffer> => {
    const token = Buffer.from(`crosstalk-capture-marker-${randomBytes(8).toString('hex')}`);
    const s = connect(markerPort, '127.0.0.1');
    s.on('error', () => {});
    await once(s, 'connect');
    s.end(token);
    await once(s, 'close');
    return token;
  };
  /**
   * Sends markers until one of them is in the file (dumpcap may still be starting for the first,
   * and it writes packets in blocks about a second apart). The file holds each packet's bytes as
   * sent, so a plain search finds a marker (tshark takes a second to start: too slow to poll with).
   */
  const sync = async (what: string): Promise<void> => {
    const deadline = Date.now() + timeout;
    const markers: Buffer[] = [];
    while (Date.now() < deadline) {
      if (dumpcap.exitCode !== null) throw new Error(`dumpcap exited ${dumpcap.exitCode}: ${stderr}`);
      markers.push(await sendMarker());
      await new Promise((r) => setTimeout(r, 100));
      const written = await readFile(file).catch(() => Buffer.alloc(0));
      if (markers.some((m) => written.includes(m))) return;
    }
    throw new Error(`the capture did not ${what} within ${timeout} ms: ${stderr}`);
  };

  const dispose = async () => {
    if (dumpcap.exitCode === null) dumpcap.kill('SIGTERM');
    await exited;
    markerServer.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await sync('start');
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    file,
    async stop() {
      await sync('catch up');
      dumpcap.kill('SIGTERM');
      await exited;
      const streams = new Map<number, CapturedStream>();
      for (const port of options.ports)
        for (const s of tcpStreamsFromPcap(file, { port })) streams.set(s.stream, s);
      return [...streams.values()].sort((a, b) => a.stream - b.stream);
    },
    datagrams() {
      if (dumpcap.exitCode === null) throw new Error('datagrams() is read after stop()');
      if (options.udp === undefined) return [];
      return udpDatagramsFromPcap(file, options.udp === 'all' ? {} : { ports: options.udp });
    },
    dispose,
  };
}
