import { defineNetworkRules } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { PassportResolver } from '../src/index.js';

// The shapes of names are cached once per process (issue 20: not once per connection); a network
// defined afterwards must not be judged by the rules the cache saw.
describe('PassportResolver: the shared cache of names', () => {
  it('works a name out again once the network rules change', () => {
    const resolver = new PassportResolver(() => true);
    expect(resolver.validAddress('abc@digitsnet')).toEqual({ user: 'abc', network: 'digitsnet' });
    defineNetworkRules('digitsnet', { checkUser: (u) => (/^\d+$/.test(u) ? undefined : 'digits only') });
    // `abc` is no valid user of digitsnet now: the name can only be an MSN passport.
    expect(resolver.validAddress('abc@digitsnet')).toEqual({ user: 'abc@digitsnet', network: 'msn' });
    expect(new PassportResolver(() => true).validAddress('123@digitsnet')).toEqual({
      user: '123',
      network: 'digitsnet',
    });
  });
});
