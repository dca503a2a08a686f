import { InvalidEventError } from '@crosstalk/core';

// XEP-0082 DateTime profile (CCYY-MM-DDThh:mm:ss[.sss]TZD); extended six-digit years as written
// by Date#toISOString are accepted too, so every JavaScript Date survives a round trip.
const DATETIME = /^(?:[+-]\d{6}|\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch -> XEP-0082 DateTime in UTC with milliseconds. */
export function formatDateTime(ms: number): string {
  const date = new Date(ms);
  if (!Number.isFinite(date.getTime())) {
    throw new InvalidEventError(`timestamp ${ms} cannot be written as an XEP-0082 date`);
  }
  return date.toISOString();
}

/** XEP-0082 DateTime -> milliseconds since the epoch, or undefined when it is not one. */
export function parseDateTime(s: string | undefined): number | undefined {
  if (s === undefined || !DATETIME.test(s)) return undefined;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : undefined;
}
