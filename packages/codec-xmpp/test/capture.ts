import { type CapturedStream, capturePath, tcpStreamsFromPcap } from '@crosstalk/compliance';
import type { Direction } from '@crosstalk/core';

/** The real capture (PROTOCOLS.md): Pidgin against ejabberd on 5222, plain text. */
export const JABBER_PCAP = capturePath('nDPI_jabber.pcap');

/** tshark's follow output marks bytes the capture missed with this placeholder. */
const HOLE = /^\[(\d+) bytes missing in capture file\]\u0000$/;

/** One contiguous run of one direction of one stream: the bytes between two holes. */
export interface CaptureRun {
  name: string;
  stream: number;
  direction: Direction;
  bytes: Uint8Array;
  /** Runs after a hole start mid-stream (some also before: the capture began late). */
  afterHole: boolean;
}

/** Segments in capture order, with holes marked, for tests that follow both directions together. */
export interface CaptureSegment {
  direction: Direction;
  bytes: Uint8Array;
  hole: boolean;
}

let cached: CapturedStream[] | undefined;

export function jabberStreams(): CapturedStream[] {
  cached ??= tcpStreamsFromPcap(JABBER_PCAP, { port: 5222 });
  return cached;
}

export function isHole(bytes: Uint8Array): boolean {
  return bytes.length < 64 && HOLE.test(Buffer.from(bytes).toString('latin1'));
}

export function segmentsOf(stream: CapturedStream): CaptureSegment[] {
  return stream.segments.map((s) => ({ direction: s.direction, bytes: s.bytes, hole: isHole(s.bytes) }));
}

/**
 * How the holes are handled: a hole splits a direction into runs; each run is framed by a fresh
 * framer, which re-synchronises at the next stanza (every segment after a hole in this capture
 * starts with a stanza, because Pidgin and ejabberd write one stanza per TCP segment).
 */
export function captureRuns(): CaptureRun[] {
  const runs: CaptureRun[] = [];
  for (const stream of jabberStreams()) {
    for (const direction of ['client', 'server'] as const) {
      let parts: Uint8Array[] = [];
      let afterHole = false;
      let index = 0;
      const close = () => {
        if (parts.length > 0) {
          runs.push({
            name: `stream ${stream.stream} ${direction} run ${index++}`,
            stream: stream.stream,
            direction,
            bytes: Uint8Array.from(Buffer.concat(parts)),
            afterHole,
          });
        }
        parts = [];
      };
      for (const seg of stream.segments) {
        if (seg.direction !== direction) continue;
        if (isHole(seg.bytes)) {
          close();
          afterHole = true;
        } else parts.push(seg.bytes);
      }
      close();
    }
  }
  return runs;
}
