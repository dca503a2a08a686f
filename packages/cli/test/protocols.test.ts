import { PassThrough, Readable } from 'node:stream';
import { capturePath, readTranscript, tcpStreamsFromPcap } from '@crosstalk/compliance';
import { concatBytes, toHex } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { main } from '../src/index.js';

const CAPTURES = capturePath();

async function run(argv: string[], stdin: string | Uint8Array) {
  const stdout = new PassThrough();
  const out: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  const stderr = new PassThrough();
  const err: Buffer[] = [];
  stderr.on('data', (d: Buffer) => err.push(d));
  const code = await main(argv, { stdin: Readable.from([stdin]), stdout, stderr });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

const lines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map(
      (l) => JSON.parse(l) as { frame: unknown; events: { kind: string; text?: string }[]; bytes: string },
    );

/** decode, then encode what decode printed: the bytes must come back unchanged. */
async function roundTrip(
  protocol: string,
  direction: 'client' | 'server',
  bytes: Uint8Array,
  extra: string[] = [],
) {
  const decoded = await run(['decode', '-p', protocol, '-d', direction, ...extra], bytes);
  expect(decoded.code, decoded.stdout.slice(-300)).toBe(0);
  const encoded = await run(['encode', '-p', protocol, '-d', direction], decoded.stdout);
  expect(encoded.code, encoded.stderr).toBe(0);
  expect(encoded.stdout.replace(/\n/g, '')).toBe(toHex(bytes));
  return lines(decoded.stdout);
}

describe('crosstalk decode/encode on real traffic', () => {
  it('oscar: the AIM capture streams, with IM texts as canonical events', async () => {
    const streams = tcpStreamsFromPcap(`${CAPTURES}/nfpc_evidence01_ann_aim.pcap`, { port: 443 }).filter(
      (s) => s.fromClient[0] === 0x2a && s.fromServer[0] === 0x2a,
    );
    expect(streams.length).toBeGreaterThan(0);
    const texts: string[] = [];
    for (const s of streams) {
      for (const [direction, bytes] of [
        ['client', s.fromClient],
        ['server', s.fromServer],
      ] as const) {
        // Ann's own screen name never appears in the capture: name her with --self.
        for (const l of await roundTrip('oscar', direction, bytes, ['--self', 'ann@aol'])) {
          for (const e of l.events) if (e.kind === 'im' && e.text) texts.push(e.text);
        }
      }
    }
    expect(texts.length).toBeGreaterThanOrEqual(4);
  });

  it('xmpp: the Jabber capture streams (client and server), with chat messages', async () => {
    // Segments the capture missed are marked `missing`: decode each run between holes on its own (Pidgin and the server write a stanza per segment).
    let messages = 0;
    for (const s of tcpStreamsFromPcap(`${CAPTURES}/nDPI_jabber.pcap`, { port: 5222 })) {
      for (const direction of ['client', 'server'] as const) {
        const runs: Uint8Array[][] = [[]];
        for (const seg of s.segments.filter((g) => g.direction === direction)) {
          if (seg.missing !== undefined) runs.push([]);
          else runs.at(-1)!.push(seg.bytes);
        }
        for (const run of runs) {
          if (run.length === 0) continue;
          const decoded = await roundTrip('xmpp', direction, concatBytes(run), ['--self', 'tom@cs-xmpp.lan']);
          messages += decoded.flatMap((l) => l.events).filter((e) => e.kind === 'im').length;
        }
      }
    }
    expect(messages).toBeGreaterThanOrEqual(2);
  });

  for (const [protocol, file, prefix] of [
    ['ymsg', 'ymsg10_escargot.jsonl', 'YMSG/'],
    ['msnp', 'msnp8_escargot.jsonl', 'NS/'],
    ['msnp', 'msnp12_escargot.jsonl', 'SB/'],
    ['oscar', 'oscar_bucp_im_ras.jsonl', 'BOS/'],
  ] as const) {
    it(`${protocol}: ${file} ${prefix}* streams decode and re-encode byte for byte`, async () => {
      const entries = readTranscript(`${CAPTURES}/transcripts/${file}`).filter((e) =>
        e.conn.startsWith(prefix),
      );
      const conns = [...new Set(entries.map((e) => e.conn))];
      for (const conn of conns) {
        for (const direction of ['client', 'server'] as const) {
          const bytes = concatBytes(
            entries.filter((e) => e.conn === conn && e.direction === direction).map((e) => e.bytes),
          );
          if (bytes.length) await roundTrip(protocol, direction, bytes);
        }
      }
    });
  }
});

describe('crosstalk encode: canonical events in every protocol', () => {
  const im = (from: string, to: string) => ({
    event: { kind: 'im', id: 'm1', from, to, text: 'héllo wörld', sentAt: 1_700_000_000_000 },
  });
  for (const [protocol, from, to] of [
    ['oscar', 'bob@yahoo', 'alice@aol'],
    ['ymsg', 'alice@aol', 'bob@yahoo'],
    ['msnp', 'bob@yahoo', 'carol@hotmail.com@msn'],
    ['xmpp', 'bob@yahoo', 'dave@localhost'],
  ] as const) {
    it(`${protocol}: an im from ${from} as the server delivers it decodes back to the same text`, async () => {
      const encoded = await run(
        ['encode', '-p', protocol, '-d', 'server', '--self', to],
        `${JSON.stringify(im(from, to))}\n`,
      );
      expect(encoded.code, encoded.stderr).toBe(0);
      const hex = encoded.stdout.trim();
      expect(hex).toMatch(/^[0-9a-f\n]+$/);
      const decoded = await run(['decode', '-p', protocol, '-d', 'server', '-i', 'hex', '--self', to], hex);
      expect(decoded.code, decoded.stdout).toBe(0);
      const events = lines(decoded.stdout).flatMap((l) => l.events);
      expect(events.some((e) => e.kind === 'im' && e.text === 'héllo wörld')).toBe(true);
    });
  }

  it('protocols lists all four codecs', async () => {
    const { stdout } = await run(['protocols', '--json'], '');
    expect(
      JSON.parse(stdout)
        .map((c: { protocol: string }) => c.protocol)
        .sort(),
    ).toEqual(['msnp', 'oscar', 'xmpp', 'ymsg']);
  });
});
