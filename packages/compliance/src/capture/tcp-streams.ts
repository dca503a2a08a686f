import { execFileSync } from 'node:child_process';

/** One direction of one TCP connection from a capture, reassembled by tshark. */
export interface CapturedStream {
  /** tshark's TCP stream index. */
  stream: number;
  /** The client end. */
  client: { host: string; port: number };
  /** The server end. */
  server: { host: string; port: number };
  /** Bytes the client (the side that sent the first SYN or first data) sent. */
  fromClient: Uint8Array;
  /** Bytes the server sent. */
  fromServer: Uint8Array;
  /**
   * Each side's payload in capture order, one entry per reassembled run. Where the capture missed
   * packets, tshark writes a `[N bytes missing in capture file]` marker: such entries carry
   * `missing: N` (their `bytes` are the marker text) and are left out of `fromClient`/`fromServer`.
   */
  segments: { direction: 'client' | 'server'; bytes: Uint8Array; missing?: number }[];
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/**
 * Reads the TCP streams of a pcap/pcapng with tshark's `follow,tcp,raw` (tshark does the
 * reassembly; we do not hand-write a pcap parser). `port` limits to streams using that port.
 */
export function tcpStreamsFromPcap(file: string, options: { port?: number } = {}): CapturedStream[] {
  const filter = options.port === undefined ? 'tcp' : `tcp.port==${options.port}`;
  const ids = execFileSync('tshark', ['-r', file, '-Y', filter, '-T', 'fields', '-e', 'tcp.stream'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .split('\n')
    .filter(Boolean)
    .map(Number);
  const streams: CapturedStream[] = [];
  for (const stream of [...new Set(ids)].sort((a, b) => a - b)) {
    const out = execFileSync('tshark', ['-r', file, '-q', '-z', `follow,tcp,raw,${stream}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 * 1024 * 1024,
    });
    const node = (label: string) => {
      const m = new RegExp(`^${label}: (.+):(\\d+)$`, 'm').exec(out);
      return m ? { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) } : { host: '', port: 0 };
    };
    const segments: CapturedStream['segments'] = [];
    const body = out.split(/^=+$/m)[1] ?? out;
    for (const line of body.split('\n')) {
      if (!/^\t?[0-9a-f]+$/.test(line) || line.trim() === '') continue;
      const direction = line.startsWith('\t') ? 'server' : 'client';
      const bytes = hexToBytes(line.trim());
      const hole =
        bytes.length < 64
          ? /^\[(\d+) bytes missing in capture file\]\0?$/.exec(Buffer.from(bytes).toString('latin1'))
          : null;
      segments.push(hole ? { direction, bytes, missing: Number(hole[1]) } : { direction, bytes });
    }
    const join = (d: 'client' | 'server') =>
      Buffer.concat(segments.filter((s) => s.direction === d).map((s) => s.bytes));
    streams.push({
      stream,
      client: node('Node 0'),
      server: node('Node 1'),
      fromClient: Uint8Array.from(join('client')),
      fromServer: Uint8Array.from(join('server')),
      segments,
    });
  }
  return streams;
}
