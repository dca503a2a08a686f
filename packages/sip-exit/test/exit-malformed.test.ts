import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { MemoryDht } from '@crosstalk/core';
import { afterEach, describe, expect, it } from 'vitest';
import { DOMAIN, startExit, USERS } from './support/exits.js';
import { freePort, installed, type SippRun, sipp } from './support/programs.js';

const REGISTER = join(import.meta.dirname, 'scenarios', 'register.xml');

/** A request with `headers` as given (so they can be wrong). */
function request(method: string, uri: string, headers: string[], body = ''): string {
  return `${method} ${uri} SIP/2.0\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
}

/** The usual headers of a request from a raw client on `local`; `n` keeps branches and Call-IDs apart. */
function base(local: number, n: number, cseq = '1 INVITE'): string[] {
  return [
    `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bKbad${n};rport`,
    'Max-Forwards: 70',
    `From: <sip:tester@127.0.0.1:${local}>;tag=t${n}`,
    `To: <sip:service@${DOMAIN}>`,
    `Call-ID: bad-${n}@127.0.0.1`,
    `CSeq: ${cseq}`,
  ];
}

/**
 * Sends each datagram, then an OPTIONS to the exit as a marker, and returns the status lines that
 * came back before the marker's answer: what the exit said to the bad datagram (UDP on loopback
 * keeps order, and the exit reads datagrams in order), or nothing when it dropped it.
 */
async function probeUdp(
  port: number,
  datagrams: ((local: number, n: number) => string | Buffer)[],
): Promise<string[][]> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const local = socket.address().port;
  const out: string[][] = [];
  let n = 0;
  for (const make of datagrams) {
    n++;
    const answers: string[] = [];
    const marker = `marker-${n}`;
    const done = new Promise<void>((resolve) => {
      const onMessage = (bytes: Buffer) => {
        const text = bytes.toString('utf8');
        if (text.includes(`Call-ID: ${marker}`)) {
          socket.off('message', onMessage);
          resolve();
        } else answers.push(text.split('\r\n')[0] as string);
      };
      socket.on('message', onMessage);
    });
    const bad = make(local, n);
    socket.send(typeof bad === 'string' ? Buffer.from(bad) : bad, port, '127.0.0.1');
    const options = request('OPTIONS', `sip:127.0.0.1:${port}`, [
      `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bKmark${n}`,
      'Max-Forwards: 70',
      `From: <sip:tester@127.0.0.1:${local}>;tag=m${n}`,
      `To: <sip:127.0.0.1:${port}>`,
      `Call-ID: ${marker}`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
    ]);
    socket.send(Buffer.from(options), port, '127.0.0.1');
    await done;
    out.push(answers);
  }
  socket.close();
  return out;
}

describe.skipIf(!installed('sipp'))('SIP exit and malformed SIP', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('answers malformed requests 400 (or drops them) while 50 sipp calls go through unharmed', async () => {
    const exit = await startExit(new MemoryDht());
    cleanup.push(() => exit.close());
    const port = exit.addresses.udpPort as number;
    const uasPort = await freePort();
    const registered = await sipp([
      `127.0.0.1:${port}`,
      '-sf',
      REGISTER,
      '-s',
      'service',
      '-au',
      'service',
      '-ap',
      USERS.service,
      '-set',
      'contact',
      `127.0.0.1:${uasPort}`,
      '-set',
      'expires',
      '300',
      '-p',
      String(await freePort()),
      '-m',
      '1',
      '-timeout',
      '15s',
    ]).done;
    expect(registered.code).toBe(0);
    const uas: SippRun = sipp(['-sn', 'uas', '-p', String(uasPort), '-m', '50', '-timeout', '60s']);
    cleanup.push(() => uas.stop());
    const uac = sipp([
      `127.0.0.1:${port}`,
      '-sn',
      'uac',
      '-s',
      'service',
      '-p',
      String(await freePort()),
      '-r',
      '10',
      '-m',
      '50',
      '-timeout',
      '60s',
    ]);
    cleanup.push(() => uac.stop());

    const uri = `sip:service@${DOMAIN}`;
    const answers = await probeUdp(port, [
      // A header line without a colon, after the headers a response needs.
      (l, n) => request('INVITE', uri, [...base(l, n), 'This is not a header', 'Content-Length: 0']),
      // The same line before them: nothing to address a response with.
      (l, n) => request('INVITE', uri, ['This is not a header', ...base(l, n), 'Content-Length: 0']),
      // Content-Length says 500 bytes; 10 follow (RFC 3261 §18.3: 400).
      (l, n) => request('INVITE', uri, [...base(l, n), 'Content-Length: 500'], 'v=0\r\no=x\r\n'),
      // Content-Length that is not a number.
      (l, n) => request('INVITE', uri, [...base(l, n), 'Content-Length: ten']),
      // Two Content-Lengths that disagree.
      (l, n) => request('INVITE', uri, [...base(l, n), 'Content-Length: 0', 'l: 4'], 'abcd'),
      // CSeq names another method (RFC 3261 §8.1.1.5).
      (l, n) => request('INVITE', uri, [...base(l, n, '1 BYE'), 'Content-Length: 0']),
      // CSeq without a number, and a number past 2^31.
      (l, n) => request('INVITE', uri, [...base(l, n, 'one INVITE'), 'Content-Length: 0']),
      (l, n) => request('INVITE', uri, [...base(l, n, '4294967296 INVITE'), 'Content-Length: 0']),
      // No Call-ID: cannot be answered.
      (l, n) =>
        request(
          'INVITE',
          uri,
          base(l, n).filter((h) => !h.startsWith('Call-ID')),
        ),
      // A 64 KB header in one datagram: over the header cap before any header is read.
      (l, n) =>
        request('INVITE', uri, [`Subject: ${'x'.repeat(64_000)}`, ...base(l, n), 'Content-Length: 0']),
      // A 64 KB header after the headers a response needs.
      (l, n) =>
        request('INVITE', uri, [...base(l, n), `Subject: ${'x'.repeat(60_000)}`, 'Content-Length: 0']),
      // A header value that is not UTF-8 (RFC 3261 §25.1 TEXT-UTF8), and bytes that are not SIP at all.
      (l, n) =>
        Buffer.concat([
          Buffer.from(request('INVITE', uri, base(l, n)).replace(/\r\n\r\n$/, '\r\nSubject: ')),
          Buffer.from([0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a]),
        ]),
      () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05]),
      // A response nobody asked for: dropped.
      (l, n) => `SIP/2.0 200 OK\r\n${base(l, n).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`,
    ]);
    expect(answers.map((a) => a.map((line) => line.slice(0, 15)))).toEqual([
      ['SIP/2.0 400 Bad'],
      [],
      ['SIP/2.0 400 Bad'],
      ['SIP/2.0 400 Bad'],
      ['SIP/2.0 400 Bad'],
      ['SIP/2.0 400 Bad'],
      ['SIP/2.0 400 Bad'],
      ['SIP/2.0 400 Bad'],
      [],
      [],
      [],
      [],
      [],
      [],
    ]);

    // Over TCP: a lying Content-Length, then a 64 KB header, each on a connection of its own.
    const tcpPort = exit.addresses.tcpPort as number;
    const lying = connect(tcpPort, '127.0.0.1');
    await once(lying, 'connect');
    let lyingAnswer = '';
    lying.on('data', (d: Buffer) => {
      lyingAnswer += d.toString();
    });
    // Content-Length 2 with 40 bytes after the headers: the rest is read as the next message, which is not SIP.
    lying.write(
      request(
        'OPTIONS',
        `sip:127.0.0.1:${tcpPort}`,
        [
          'Via: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKtcp1',
          'Max-Forwards: 70',
          'From: <sip:t@127.0.0.1>;tag=a',
          `To: <sip:127.0.0.1:${tcpPort}>`,
          'Call-ID: tcp-lying@127.0.0.1',
          'CSeq: 1 OPTIONS',
          'Content-Length: 2',
        ],
        `ok${'garbage that is not a start line'.padEnd(38, '!')}\r\n\r\n`,
      ),
    );
    await once(lying, 'close');
    expect(lyingAnswer).toMatch(/^SIP\/2\.0 200 OK/);
    const huge = connect(tcpPort, '127.0.0.1');
    await once(huge, 'connect');
    huge.on('error', () => {});
    let hugeAnswer = '';
    huge.on('data', (d: Buffer) => {
      hugeAnswer += d.toString();
    });
    huge.write(`INVITE ${uri} SIP/2.0\r\nSubject: ${'y'.repeat(64 * 1024)}\r\n`);
    // Past the 16 KiB header cap the exit closes the connection without waiting for the rest.
    await once(huge, 'close');
    expect(hugeAnswer).toBe('');

    const caller = await uac.done;
    expect(caller.failed, caller.output).toBe(0);
    expect(caller.successful).toBe(50);
    const invalid = exit.events.filter((e) => e.type === 'invalid');
    expect(invalid.length).toBeGreaterThanOrEqual(13);
  }, 60_000);
});
