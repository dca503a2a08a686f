import { codecSuite, type LoginScript, type RefusedLogin, type SniffSample } from '@crosstalk/compliance';
import type { CanonicalEvent, Direction, Translator } from '@crosstalk/core';
import { addressToPassport, decodeFrame, encodeArg, msnp } from '../src/index.js';
import { referenceGoldens } from './fixtures/reference-goldens.js';
import { msnpConnection, TRANSCRIPTS, transcript, transcriptGoldens } from './transcripts.js';

const encoder = new TextEncoder();

// The first client write of every MSNP connection in the transcripts: VER (NS), USR/ANS (SB).
const sniffYes: SniffSample[] = [];
for (const name of TRANSCRIPTS) {
  const seen = new Set<string>();
  for (const e of transcript(name)) {
    if (!msnpConnection(e.conn) || e.direction !== 'client' || seen.has(e.conn)) continue;
    seen.add(e.conn);
    sniffYes.push({ name: `${name} ${e.conn}`, direction: 'client', bytes: e.bytes });
  }
}

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

/**
 * Alice's login on Escargot (MSNP8), to (not including) her OUTs: the notification connection,
 * confirmed by `USR t OK`, whose `XFR SB` answer carries the cookie of the switchboard connection
 * she then opens. The checks after verified use that switchboard; a foreign buddy is called into
 * it first, as a client does before writing to anyone there.
 */
const alice = transcript('msnp8').filter(
  (e) => (e.conn === 'NS/alice' || e.conn === 'SB/alice') && text(e.bytes) !== 'OUT\r\n',
);
const login: LoginScript = {
  name: 'Escargot MSNP8: alice, notification server then a switchboard',
  writes: alice,
  user: { user: 'alice@example.com', network: 'msn' },
  confirmedAt: alice.findIndex((e) => e.direction === 'server' && /^USR \d+ OK /.test(text(e.bytes))),
  conn: 'SB/alice',
  statusConn: 'NS/alice',
  address: (to) => [new TextEncoder().encode(`CAL 900 ${encodeArg(addressToPassport(to))}\r\n`)],
};

/** Alice's notification connection with `911 t` (authentication failed, MSNP wiki) for her `USR t OK`. */
const refused: RefusedLogin = {
  name: 'Escargot MSNP8: alice, authentication failed',
  writes: [
    ...alice.slice(0, login.confirmedAt).filter((e) => e.conn === 'NS/alice'),
    {
      conn: 'NS/alice',
      direction: 'server',
      bytes: new TextEncoder().encode(
        `911 ${/^USR (\d+)/.exec(text(alice[login.confirmedAt]!.bytes))![1]}\r\n`,
      ),
    },
  ],
};

/** What MSNP cannot carry as generated. */
function prepare(event: CanonicalEvent, direction: Direction): CanonicalEvent | undefined {
  // The typing notice only says "typing" (a client stops showing it after a while): nothing for other states.
  if (event.kind === 'typing' && event.state !== 'composing') return undefined;
  // A client goes offline by signing out (`OUT`, MSNP wiki), which ends the connection: no status to read back.
  if (event.kind === 'presence' && event.status === 'offline' && direction === 'client') return undefined;
  // No server command tells a client its request was answered (docs/status.md, known protocol gaps).
  if (event.kind === 'buddy-response' && direction === 'server') return undefined;
  return event;
}

/** What a fresh reader must have seen before an event's frames make sense to it. */
function prime(reader: Translator<unknown>, event: CanonicalEvent, direction: Direction): void {
  const lines: string[] = [];
  if (direction === 'client' && (event.kind === 'im' || event.kind === 'typing')) {
    // A switchboard client states who it is and whom it called before it writes a message.
    lines.push(`USR 1 ${reader.self?.user} 1\r\n`, `CAL 2 ${encodeArg(addressToPassport(event.to))}\r\n`);
  } else if (direction === 'server' && event.kind === 'roster') {
    // List lines come after the SYN reply that counts them (MSNP12: SYN t ts1 ts2 contacts groups).
    lines.push(`SYN 1 2006-01-01T00:00:00.0-08:00 2006-01-01T00:00:00.0-08:00 ${event.items.length} 0\r\n`);
  }
  for (const line of lines)
    reader.toEvents(decodeFrame(new TextEncoder().encode(line), direction), direction);
}

codecSuite({
  codec: msnp(),
  logins: [login],
  refusedLogins: [refused],
  translation: { prepare, prime },
  goldens: [...TRANSCRIPTS.flatMap(transcriptGoldens), ...referenceGoldens()],
  sniffYes,
  sniffNo: [
    {
      name: 'XMPP stream',
      direction: 'client',
      bytes: encoder.encode("<?xml version='1.0'?><stream:stream to='localhost'>"),
    },
    {
      name: 'YMSG header',
      direction: 'client',
      bytes: Uint8Array.from([0x59, 0x4d, 0x53, 0x47, 0x0a, 0, 0, 0, 0, 0]),
    },
    { name: 'OSCAR FLAP', direction: 'server', bytes: Uint8Array.from([0x2a, 1, 0, 100, 0, 4, 0, 0, 0, 1]) },
    { name: 'a server speaking first', direction: 'server', bytes: encoder.encode('VER 1 MSNP8\r\n') },
    { name: 'SMTP greeting', direction: 'client', bytes: encoder.encode('EHLO localhost\r\n') },
  ],
  garbageRuns: 200,
});
