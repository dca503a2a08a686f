import {
  type CodecGolden,
  capturePath,
  goldensFromTranscript,
  readTranscript,
  type TranscriptEntry,
} from '@crosstalk/compliance';
import { fromHex } from '@crosstalk/core';
import { OPENYMSG_PACKETS } from './fixtures/openymsg-ymsg16.js';

/** The recorded Escargot sessions (fixtures/captures/transcripts in this repository). */
export const TRANSCRIPTS = capturePath('transcripts/');

export function transcript(name: 'ymsg10_escargot' | 'ymsg10_escargot_bever'): TranscriptEntry[] {
  return readTranscript(`${TRANSCRIPTS}${name}.jsonl`);
}

export function transcriptGoldens(): CodecGolden[] {
  return [
    ...goldensFromTranscript('ymsg10_escargot', transcript('ymsg10_escargot')),
    ...goldensFromTranscript('ymsg10_escargot_bever', transcript('ymsg10_escargot_bever')),
  ];
}

export function openYmsgFrames(): Uint8Array[] {
  return OPENYMSG_PACKETS.map((p) => fromHex(p.hex));
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

export const enc = new TextEncoder();
