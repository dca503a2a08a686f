import type { Direction } from '@crosstalk/core';

/**
 * Which commands carry a payload, and which carry a transaction id, in each direction. MSNP gives
 * no length prefix for lines, so the framer must know these per verb (Escargot msnp.py
 * `_PAYLOAD_COMMANDS`; the MSNP wiki's per-command pages for the directions).
 */

/** Payload commands whose last argument is always the byte count. */
const ALWAYS_PAYLOAD: Record<Direction, ReadonlySet<string>> = {
  // Client: `MSG trid U|N|A|D len` (SB), `QRY trid productId 32` (MSNP6+), `UUX trid len` (MSNP11+),
  // `ADL/RML/FQY trid len` and `UUN trid user type len` (MSNP13+).
  client: new Set(['MSG', 'QRY', 'UUX', 'ADL', 'RML', 'FQY', 'UUN']),
  // Server: `MSG user friendly len`, `UBX user len` (MSNP11+), `NOT len`, `IPG len`,
  // `GCF trid name len` (MSNP11+), `UBN user 1 len` (MSNP13+).
  server: new Set(['MSG', 'UBX', 'NOT', 'IPG', 'GCF', 'UBN']),
};

/**
 * Server commands that carry a payload only when their last argument is a number: `ADL trid OK`
 * versus `ADL 0 len`, `UUX trid 0` (Escargot msnp_ns.py `_m_uux`, `_m_adl`, `on_added_me`).
 */
const PAYLOAD_WHEN_NUMERIC: ReadonlySet<string> = new Set(['ADL', 'RML', 'FQY', 'UUN', 'UUX']);

export type PayloadRule = 'always' | 'numeric' | 'none';

/**
 * Whether a verb read in `direction` is followed by a payload: always, only when its last argument is a
 * number, or never.
 */
export function payloadRule(verb: string, direction: Direction): PayloadRule {
  if (ALWAYS_PAYLOAD[direction].has(verb)) return 'always';
  if (direction === 'server' && PAYLOAD_WHEN_NUMERIC.has(verb)) return 'numeric';
  return 'none';
}

/**
 * Server commands that never carry a transaction id although their first argument can be a number:
 * `RNG sessid ...` (numeric session ids on the real service), `QNG 60` (seconds), `BPR ser ...`,
 * `MSG user friendly len`, `NLN`, `FLN`, `JOI`, `BYE`, `UBX`, `NOT`, `IPG`, `OUT` (MSNP wiki).
 */
const SERVER_NO_TRID: ReadonlySet<string> = new Set([
  'MSG',
  'NLN',
  'FLN',
  'UBX',
  'UBN',
  'RNG',
  'JOI',
  'BYE',
  'QNG',
  'NOT',
  'IPG',
  'OUT',
  'BPR',
]);

const LIST_NAMES: ReadonlySet<string> = new Set(['FL', 'AL', 'BL', 'RL', 'PL']);

/** Largest value a transaction id takes (a 32-bit counter). */
const MAX_TRID = 0xffff_ffff;

/** A canonical decimal (no sign, no leading zero) that fits a transaction id. */
export function isTridSpelling(token: string | undefined): token is string {
  if (token === undefined || token.length === 0 || token.length > 10) return false;
  const first = token.charCodeAt(0);
  if (first < 0x30 || first > 0x39 || (first === 0x30 && token.length > 1)) return false;
  for (let i = 1; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return token.length < 10 || Number(token) <= MAX_TRID;
}

/**
 * Whether `args[0]` is a transaction id. Client commands carry one wherever the first argument is
 * a number. Server list lines changed shape in MSNP8 (iterators and trids dropped, MSNP wiki
 * "MSNP8": `LST user friendly bits groups`, `LSG id name 0`, `GTC A`), so their older forms are
 * told apart by shape: `LST trid FL ...`, `LSG trid ser idx count ...`, `GTC trid [ser] value`.
 */
export function hasTrid(verb: string, direction: Direction, args: readonly string[]): boolean {
  if (!isTridSpelling(args[0])) return false;
  if (direction === 'client') return true;
  if (SERVER_NO_TRID.has(verb)) return false;
  switch (verb) {
    case 'LST':
      return args.length >= 2 && LIST_NAMES.has(args[1]!);
    case 'LSG':
      return args.length >= 6;
    case 'GTC':
    case 'BLP':
    case 'PRP':
      return args.length >= 2;
    default:
      return true;
  }
}
