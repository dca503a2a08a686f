/**
 * Login error subcodes carried in TLV 8 of a BUCP login reply or a channel-4 sign-off
 * (retro-aim-server wire/snacs.go LoginErr*; libpurple oscar.c purple_parse_auth_resp).
 */
export const LoginError = {
  invalidUsernameOrPassword: 0x0001,
  invalidPassword: 0x0005,
  invalidAccount: 0x0007,
  deletedAccount: 0x0008,
  expiredAccount: 0x0009,
  suspendedAccount: 0x0011,
  tooHeavilyWarned: 0x0019,
  rateLimitExceeded: 0x001d,
} as const;

const MESSAGES: Record<number, string> = {
  1: 'invalid screen name or password',
  4: 'invalid screen name or password',
  5: 'incorrect password',
  7: 'invalid account',
  8: 'deleted account (or unknown ICQ user)',
  9: 'expired account',
  17: 'suspended account',
  24: 'connecting too frequently',
  25: 'too heavily warned',
  28: 'client version too old',
  29: 'rate limit exceeded',
  32: 'invalid SecurID',
  34: 'suspended because of age',
};

/** A readable message for a login error code. */
export function loginErrorMessage(code: number): string {
  return MESSAGES[code] ?? `login error 0x${code.toString(16).padStart(4, '0')}`;
}
