import { isCrossTalkError } from '@crosstalk/core';

/** One line for a log or a `refused` event: `CODE: message` for our errors, else the value as text. */
export function describeRefusal(reason: unknown): string {
  return isCrossTalkError(reason) ? `${reason.code}: ${reason.message}` : String(reason);
}
