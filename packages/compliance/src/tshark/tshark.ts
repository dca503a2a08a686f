import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * tshark as an independent decoder for agreement tests: our encoder's bytes are wrapped into a
 * pcap by text2pcap (one TCP segment per packet, fake headers) and dissected by Wireshark.
 */
export interface TsharkPacket {
  bytes: Uint8Array;
}

/** Options of a tshark decode: the packets, the fake TCP ports, the dissector and the fields to read. */
export interface TsharkOptions {
  /** TCP payloads, one packet each, all sent from `srcPort` to `dstPort`. */
  packets: readonly Uint8Array[];
  /** Fake TCP ports; the server port decides the dissector together with `decodeAs`. */
  srcPort: number;
  /** The fake destination port. */
  dstPort: number;
  /** `-d` mappings, e.g. `tcp.port==5190,aim`. */
  decodeAs?: readonly string[];
  /** Field names to extract (`-e`); every occurrence of each is returned. */
  fields: readonly string[];
  /** Display filter (`-Y`). */
  filter?: string;
}

/** One decoded packet: each field asked for, with all its values. */
export type TsharkRow = Record<string, string[]>;

let available: boolean | undefined;

/** True when tshark and text2pcap are installed (`.ci/run` installs them). */
export function tsharkAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync('tshark', ['--version'], { stdio: 'ignore' });
      execFileSync('text2pcap', ['--version'], { stdio: 'ignore' });
      available = true;
    } catch {
      available = false;
    }
  }
  return available;
}

/** text2pcap's input: an od-style hex dump per packet, each starting again at offset 0. */
export function hexDump(packets: readonly Uint8Array[]): string {
  const lines: string[] = [];
  for (const packet of packets) {
    for (let at = 0; at < packet.length; at += 16) {
      const row = Array.from(packet.subarray(at, at + 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
      lines.push(`${at.toString(16).padStart(6, '0')} ${row}`);
    }
  }
  return lines.join('\n') + '\n';
}

function run(command: string, args: string[], input: Uint8Array | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${command} exited ${code}: ${Buffer.concat(err).toString()}`));
    });
    child.stdin.end(input);
  });
}

/** Wraps packets into a pcap (one TCP segment each) with text2pcap. */
export async function toPcap(
  packets: readonly Uint8Array[],
  srcPort: number,
  dstPort: number,
): Promise<Buffer> {
  return run('text2pcap', ['-q', '-T', `${srcPort},${dstPort}`, '-', '-'], hexDump(packets));
}

/** Dissects a pcap and returns, per packet in order, every occurrence of each requested field. */
export async function tsharkFieldsFromPcap(
  pcap: Uint8Array,
  options: Omit<TsharkOptions, 'packets' | 'srcPort' | 'dstPort'>,
): Promise<TsharkRow[]> {
  // tshark 4.0 refuses `-r -` when stdin is a socket, which is what Node's child stdio pipes are
  // on Linux (libuv socketpairs): read from a temporary file instead.
  const dir = await mkdtemp(join(tmpdir(), 'crosstalk-tshark-'));
  const file = join(dir, 'capture.pcap');
  try {
    await writeFile(file, pcap);
    const args = ['-r', file, '-T', 'json', '-e', 'frame.number'];
    for (const d of options.decodeAs ?? []) args.push('-d', d);
    for (const f of options.fields) args.push('-e', f);
    if (options.filter) args.push('-Y', options.filter);
    const json = JSON.parse((await run('tshark', args, '')).toString('utf8') || '[]') as {
      _source: { layers: Record<string, string[]> };
    }[];
    return json.map((p) => p._source.layers);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Our bytes through text2pcap and tshark: the fields Wireshark's dissector reads from each packet. */
export async function tsharkFields(options: TsharkOptions): Promise<TsharkRow[]> {
  const pcap = await toPcap(options.packets, options.srcPort, options.dstPort);
  return tsharkFieldsFromPcap(pcap, options);
}
