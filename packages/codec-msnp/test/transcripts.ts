import { fileURLToPath } from 'node:url';
import {
  type CodecGolden,
  goldensFromTranscript,
  readTranscript,
  type TranscriptEntry,
} from '@crosstalk/compliance';

/** The byte-exact Escargot sessions (fixtures/escargot/README.md). */
export const TRANSCRIPT_DIR = fileURLToPath(new URL('./fixtures/escargot/', import.meta.url));

export const TRANSCRIPTS = ['msnp2', 'msnp7', 'msnp8', 'msnp12'] as const;
export type TranscriptName = (typeof TRANSCRIPTS)[number];

export function transcript(name: TranscriptName): TranscriptEntry[] {
  return readTranscript(`${TRANSCRIPT_DIR}${name}_escargot.jsonl`);
}

/** NS/* and SB/* streams; the HTTP/* Passport exchanges are not MSNP. */
export function msnpConnection(conn: string): boolean {
  return conn.startsWith('NS/') || conn.startsWith('SB/');
}

export function transcriptGoldens(name: TranscriptName): CodecGolden[] {
  return goldensFromTranscript(`${name} escargot`, transcript(name), msnpConnection);
}
