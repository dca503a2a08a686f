import type { RosterItem, Subscription } from '@crosstalk/core';

/** List bits of `LST` from MSNP8 on: FL 1, AL 2, BL 4, RL 8, PL 16 (PROTOCOLS.md, MSNP wiki "LST"). */
export const LIST_BITS = { FL: 1, AL: 2, BL: 4, RL: 8, PL: 16 } as const;
/** One of the MSN lists: forward (FL), allow (AL), block (BL), reverse (RL), pending (PL). */
export type ListName = keyof typeof LIST_BITS;

export function isListName(value: string | undefined): value is ListName {
  return value === 'FL' || value === 'AL' || value === 'BL' || value === 'RL' || value === 'PL';
}

/**
 * Subscription seen from the list owner: FL means the owner watches the contact (`to`), RL means
 * the contact has the owner on its FL (`from`), both is `both` (RFC 6121 §2.1.2.5 terms).
 */
export function subscriptionOf(bits: number): Subscription {
  const to = (bits & LIST_BITS.FL) !== 0;
  const from = (bits & LIST_BITS.RL) !== 0;
  return to && from ? 'both' : to ? 'to' : from ? 'from' : 'none';
}

/**
 * The list bits a foreign roster item gets when merged into the server's list: AL always (the
 * gateway lets its own foreign buddies see the user), FL unless the buddy only follows the user
 * (`from`), RL when the buddy follows the user (`from`, `both`). A pending request is FL|AL, as a
 * native contact who has not added the user back.
 */
export function listBitsOf(item: Pick<RosterItem, 'subscription' | 'pending'>): number {
  let bits = LIST_BITS.AL;
  if (item.subscription !== 'from') bits |= LIST_BITS.FL;
  if (item.subscription === 'from' || item.subscription === 'both') bits |= LIST_BITS.RL;
  return bits;
}
