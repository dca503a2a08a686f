import { codecSuite, type LoginScript, type RefusedLogin, readTranscript } from '@crosstalk/compliance';
import type { CanonicalEvent } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { Bucp, encodeFlap, Family, LoginError, oscar, snacFrame, tlv } from '../src/index.js';
import {
  BUCP_TRANSCRIPT,
  pcapGoldens,
  pcapStreams,
  ROASTED_TRANSCRIPT,
  transcriptGoldens,
} from './goldens.js';

const transcripts = transcriptGoldens();
const goldens = [...transcripts, ...pcapGoldens()];
const first = (name: string) => transcripts.find((g) => g.name === name)!.bytes;

/**
 * A login over two connections, as Open OSCAR Server recorded it: the auth connection, whose reply
 * carries the BOS cookie (that reply confirms the login), then the BOS connection presenting the
 * cookie, verified when the client goes online (0x01/0x02).
 */
function login(path: string, user: string, name: string): LoginScript {
  const writes = readTranscript(path).filter((e) => e.conn === `AUTH/${user}` || e.conn === `BOS/${user}`);
  // The auth server's reply: its last write on the auth connection.
  const confirmedAt = writes.findLastIndex((e) => e.conn === `AUTH/${user}` && e.direction === 'server');
  return { name, writes, user: { user, network: 'aol' }, confirmedAt, conn: `BOS/${user}` };
}

/** What AIM cannot carry as generated: its IM text is HTML, where a line break is `<BR>` (read back as LF). */
function prepare(event: CanonicalEvent): CanonicalEvent | undefined {
  return event.kind === 'im' ? { ...event, text: event.text.replace(/\r\n/g, '\n') } : event;
}

/**
 * Bobby's auth connection with the server's reply replaced by a refusal (BUCP login reply with
 * error TLV 8, "incorrect password", as retro-aim-server writes it), then the client's sign-off.
 */
function refused(): RefusedLogin {
  const auth = readTranscript(BUCP_TRANSCRIPT).filter((e) => e.conn === 'AUTH/bobby');
  const at = auth.findLastIndex((e) => e.direction === 'server');
  const reply = snacFrame(
    Family.bucp,
    Bucp.loginResponse,
    { type: 'tlvs', tlvs: [tlv(0x01, 'bobby'), tlv(0x08, [0, LoginError.invalidPassword])] },
    { seq: 102 },
  );
  return {
    name: 'bobby, incorrect password',
    writes: [...auth.slice(0, at), { direction: 'server', bytes: encodeFlap(reply) }, ...auth.slice(at + 1)],
  };
}

codecSuite({
  codec: oscar(),
  goldens,
  logins: [
    login(BUCP_TRANSCRIPT, 'bobby', 'Open OSCAR Server: bobby (BUCP)'),
    login(ROASTED_TRANSCRIPT, 'carol', 'Open OSCAR Server: carol (roasted password)'),
  ],
  refusedLogins: [refused()],
  translation: { prepare },
  sniffYes: [
    // OSCAR servers speak first: the FLAP channel-1 hello (seq 100 on Open OSCAR Server).
    { name: 'server hello', direction: 'server', bytes: first('bucp AUTH/bobby server').subarray(0, 10) },
    {
      name: 'BUCP client hello',
      direction: 'client',
      bytes: first('bucp AUTH/bobby client').subarray(0, 10),
    },
    { name: 'roasted login', direction: 'client', bytes: first('roasted AUTH/carol client').subarray(0, 40) },
    {
      name: 'BOS cookie sign-on',
      direction: 'client',
      bytes: first('bucp BOS/bobby client').subarray(0, 40),
    },
  ],
  sniffNo: [
    {
      name: 'YMSG header',
      direction: 'client',
      bytes: new TextEncoder().encode('YMSG\x00\x0a\x00\x00\x00\x00'),
    },
    { name: 'MSNP VER', direction: 'client', bytes: new TextEncoder().encode('VER 1 MSNP8 CVR0\r\n') },
    { name: 'XMPP stream', direction: 'client', bytes: new TextEncoder().encode("<?xml version='1.0'?>") },
  ],
  garbageRuns: 200,
});

describe('goldens', () => {
  it('cover both transcripts and the plain OSCAR streams of the capture (TLS stream skipped)', () => {
    expect(transcripts.length).toBe(18);
    expect(pcapStreams().map((s) => s.stream)).toEqual([2, 4]);
    expect(goldens.length).toBe(22);
  });
});
