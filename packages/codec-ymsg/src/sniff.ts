import type { SniffResult } from '@crosstalk/core';

const MAGIC = [0x59, 0x4d, 0x53, 0x47]; // "YMSG"

/** Either side's first bytes: every YMSG packet starts with "YMSG" (the client speaks first). */
export function sniffYmsg(head: Uint8Array): SniffResult {
  const n = Math.min(head.length, MAGIC.length);
  for (let i = 0; i < n; i++) if (head[i] !== MAGIC[i]) return 'no';
  return head.length >= MAGIC.length ? 'yes' : 'more';
}
