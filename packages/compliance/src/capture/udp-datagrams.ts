import { execFileSync } from 'node:child_process';

/** One UDP datagram from a capture: its two ends and its payload. */
export interface CapturedDatagram {
  /** Who sent it. */
  source: {
    /** The sender's IP address (`ip.src`). */
    host: string;
    /** The sender's UDP port. */
    port: number;
  };
  /** Who it was sent to. */
  destination: {
    /** The receiver's IP address (`ip.dst`). */
    host: string;
    /** The receiver's UDP port. */
    port: number;
  };
  /** The bytes after the 8-byte UDP header. */
  payload: Uint8Array;
}

/**
 * Reads the UDP datagrams of a pcap/pcapng with tshark (`udp.payload`, the bytes after the UDP
 * header whatever tshark dissects them as). `ports` limits to datagrams from or to those ports.
 */
export function udpDatagramsFromPcap(
  file: string,
  options: { ports?: readonly number[] } = {},
): CapturedDatagram[] {
  const filter = options.ports === undefined ? 'udp' : `udp.port in {${options.ports.join(' ')}}`;
  const out = execFileSync(
    'tshark',
    [
      '-r',
      file,
      '-Y',
      filter,
      '-T',
      'fields',
      '-E',
      'occurrence=f',
      '-e',
      'ip.src',
      '-e',
      'udp.srcport',
      '-e',
      'ip.dst',
      '-e',
      'udp.dstport',
      '-e',
      'udp.payload',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 * 1024 * 1024 },
  );
  const datagrams: CapturedDatagram[] = [];
  for (const line of out.split('\n')) {
    const [srcHost, srcPort, dstHost, dstPort, payload = ''] = line.split('\t');
    if (!srcHost || !srcPort || !dstPort) continue;
    datagrams.push({
      source: { host: srcHost, port: Number(srcPort) },
      destination: { host: dstHost ?? '', port: Number(dstPort) },
      payload: Uint8Array.from(Buffer.from(payload.replace(/:/g, ''), 'hex')),
    });
  }
  return datagrams;
}
