import { toHex } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { roastPassword } from '../src/index.js';
import { bucpStrongHash, bucpWeakHash } from '../src/testing/index.js';

// Values from the Open OSCAR Server transcripts (captures/transcripts/oscar_*.txt comments and bytes).
describe('login proofs match the recorded sessions', () => {
  it('BUCP strong hash: MD5(key + MD5(password) + "AOL Instant Messenger (SM)")', () => {
    expect(toHex(bucpStrongHash('fcae8c9e-db83-48d2-af63-9c2fc194b1af', 'alicepw1'))).toBe(
      '8d5764214d2d27c75b1a17c6fde6d75c',
    );
  });

  it('BUCP weak hash: MD5(key + password + "AOL Instant Messenger (SM)")', () => {
    expect(toHex(bucpWeakHash('7acaf7bb-ac8c-488c-ba31-17f640fcac75', 'bobbypw1'))).toBe(
      '44dde1bd7fa756f5a7d2c1fd8139d32d',
    );
  });

  it('roasted password: XOR with the 16-byte table, and roasting twice gives the password back', () => {
    expect(toHex(roastPassword('carolpw1'))).toBe('9047f3ab55f6aca3');
    expect(new TextDecoder().decode(roastPassword(roastPassword('a much longer password than 16')))).toBe(
      'a much longer password than 16',
    );
  });
});
