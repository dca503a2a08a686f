import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPcap, tsharkAvailable } from '@crosstalk/compliance';
import { type CanonicalEvent, type Direction, fromHex, toHex } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { CommandFramer, decodeFrame, encodeFrame, MsnpTranslator } from '../src/index.js';
import { TRANSCRIPTS, transcriptGoldens } from './transcripts.js';

/**
 * tshark's `msnms` dissector (port 1863) knows lines only, no lengths (PEERS.md): a weak but
 * independent check that what we encode splits into the same lines. Each frame goes in its own
 * TCP segment; tshark's lines for that segment must be our command line followed by the lines of
 * our payload.
 */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(out).toString('utf8'))
        : reject(new Error(`tshark exited ${code}: ${Buffer.concat(err).toString()}`)),
    );
  });
}

/** The msnms lines tshark shows for each packet, as hex. */
async function msnmsLines(packets: readonly Uint8Array[], direction: Direction): Promise<string[][]> {
  const [src, dst] = direction === 'client' ? [40_000, 1863] : [1863, 40_000];
  // tshark 4 refuses to read a capture from Node's stdin (a socket pair), so it goes through a file.
  const dir = mkdtempSync(join(tmpdir(), 'msnp-tshark-'));
  const file = join(dir, 'frames.pcap');
  let pdml: string;
  try {
    writeFileSync(file, await toPcap(packets, src, dst));
    pdml = await run('tshark', ['-r', file, '-T', 'pdml']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return pdml
    .split('<packet>')
    .slice(1)
    .map((packet) => {
      const block = /<proto name="msnms"[\s\S]*?<\/proto>/.exec(packet)?.[0] ?? '';
      return [
        ...block.matchAll(/<field name="" show="[^"]*" size="\d+" pos="\d+" value="([0-9a-f]*)"\/>/g),
      ].map((m) => m[1]!);
    });
}

/** Our frame split at LF the way a line dissector does. */
function ourLines(frame: Uint8Array): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < frame.length; i++) {
    if (frame[i] === 0x0a) {
      lines.push(toHex(frame.subarray(start, i + 1)));
      start = i + 1;
    }
  }
  if (start < frame.length) lines.push(toHex(frame.subarray(start)));
  return lines;
}

function sameSplit(ours: Uint8Array[], theirs: string[][]): void {
  expect(theirs).toHaveLength(ours.length);
  ours.forEach((frame, i) => {
    const lines = theirs[i]!;
    // The first line is the command line exactly as we cut it.
    const lf = frame.indexOf(0x0a);
    expect(lines[0], new TextDecoder().decode(frame.subarray(0, lf + 1))).toBe(
      toHex(frame.subarray(0, lf + 1)),
    );
    expect(lines).toEqual(ourLines(frame));
    expect(toHex(fromHex(lines.join('')))).toBe(toHex(frame));
  });
}

describe.skipIf(!tsharkAvailable())('tshark msnms agrees with our line split', () => {
  it('on every re-encoded frame of the Escargot transcripts', async () => {
    for (const direction of ['client', 'server'] as const) {
      const frames: Uint8Array[] = [];
      for (const g of TRANSCRIPTS.flatMap(transcriptGoldens).filter((x) => x.direction === direction)) {
        for (const raw of new CommandFramer(direction).push(g.bytes))
          frames.push(encodeFrame(decodeFrame(raw, direction)));
      }
      expect(frames.length).toBeGreaterThan(100);
      sameSplit(frames, await msnmsLines(frames, direction));
    }
  });

  it('on the commands our translator writes for canonical events', async () => {
    const alice = { user: 'alice@example.com', network: 'msn' };
    const bob = { user: 'bob', network: 'yahoo' };
    const events: CanonicalEvent[] = [
      {
        kind: 'im',
        id: '1',
        from: bob,
        to: alice,
        text: 'hello\r\nsecond line',
        html: '<b>hello</b>',
        sentAt: 0,
      },
      { kind: 'typing', from: bob, to: alice, state: 'composing' },
      { kind: 'presence', from: bob, status: 'away', text: 'brb' },
      { kind: 'presence', from: bob, status: 'offline' },
      { kind: 'buddy-request', from: bob, to: alice, name: 'Bob Y' },
    ];
    for (const direction of ['client', 'server'] as const) {
      for (const dialect of [8, 12]) {
        const translator = new MsnpTranslator({ dialect, self: alice });
        const frames = events.flatMap((e) => translator.fromEvent(e, direction)).map(encodeFrame);
        expect(frames.length).toBeGreaterThanOrEqual(events.length);
        sameSplit(frames, await msnmsLines(frames, direction));
      }
    }
  });
});
