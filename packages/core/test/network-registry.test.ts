import { describe, expect, it, vi } from 'vitest';

/**
 * Network rules are process-wide, not module state: an application can load an ESM and a CJS copy
 * of core (two module instances), and a codec defined through either must be seen by both.
 */
describe('network rules and third-party networks', () => {
  it('rules defined through one copy of core are used by another copy', async () => {
    vi.resetModules();
    const one = await import('../src/index.js');
    vi.resetModules();
    const two = await import('../src/index.js');
    expect(one.parseAddress).not.toBe(two.parseAddress); // really two module instances
    one.defineNetworkRules('dualnet', { normalizeUser: (u) => u.toLowerCase() });
    expect(two.addressKey(two.parseAddress('Alice@dualnet'))).toBe('alice@dualnet');
  });

  it('a codec declares its networks’ rules, and its networks become foreign to other protocols', async () => {
    const core = await import('../src/index.js');
    expect(core.defaultIsForeign(['aol', 'icq'])({ user: 'bob', network: 'ircnet' })).toBe(false);
    core.defineCodec({
      protocol: 'ircish',
      networks: ['ircnet'],
      networkRules: { ircnet: { normalizeUser: (u) => u.toLowerCase() } },
      features: new Set(['im']),
      sniff: () => 'no',
      createFramer: () => {
        throw new Error('unused');
      },
      frames: {
        decode: (r) => r,
        encode: (f) => f as Uint8Array,
        toJson: (f) => f,
        fromJson: (j) => j as Uint8Array,
      },
      createTranslator: () => {
        throw new Error('unused');
      },
      openSession: () => {
        throw new Error('unused');
      },
    });
    expect(core.addressKey(core.parseAddress('Bob@ircnet'))).toBe('bob@ircnet');
    const aim = core.defaultIsForeign(['aol', 'icq']);
    expect(aim({ user: 'bob', network: 'ircnet' })).toBe(true);
    // So an AIM buddy named bob@ircnet is bob on ircnet, not the AIM user "bob@ircnet".
    expect(core.nativeToAddress('bob@ircnet', 'aol', aim)).toEqual({ user: 'bob', network: 'ircnet' });
    expect(core.defaultIsForeign(['ircnet'])({ user: 'bob', network: 'ircnet' })).toBe(false);
  });
});
