import { codecSuite } from '@crosstalk/compliance';
import { describe, expect, it } from 'vitest';
import { oscar } from '../src/index.js';
import { pcapGoldens, pcapStreams, transcriptGoldens } from './goldens.js';

const transcripts = transcriptGoldens();
const goldens = [...transcripts, ...pcapGoldens()];
const first = (name: string) => transcripts.find((g) => g.name === name)!.bytes;

codecSuite({
  codec: oscar(),
  goldens,
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
