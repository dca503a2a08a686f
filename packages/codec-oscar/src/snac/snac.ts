import type { FlapFrame, Snac } from '../flap/flap-frame.js';
import type { SnacBody } from './snac-body.js';

/** A channel-2 frame carrying one SNAC (seq 0 until a sender numbers it). */
export function snacFrame(
  family: number,
  subtype: number,
  body: SnacBody,
  options: { flags?: number; requestId?: number; seq?: number } = {},
): FlapFrame & { payload: Snac } {
  return {
    channel: 2,
    seq: options.seq ?? 0,
    payload: {
      type: 'snac',
      family,
      subtype,
      flags: options.flags ?? 0,
      requestId: options.requestId ?? 0,
      body,
    },
  };
}

/** The SNAC of a frame, if it carries one. */
export function snacOf(frame: FlapFrame): Snac | undefined {
  return frame.payload.type === 'snac' ? frame.payload : undefined;
}

export function isSnac(frame: FlapFrame, family: number, subtype: number): boolean {
  const p = frame.payload;
  return p.type === 'snac' && p.family === family && p.subtype === subtype;
}
