import { describe, expect, it } from 'vitest';
import {
  CodecRegistry,
  defineCodec,
  emptyOutput,
  FixedHeaderFramer,
  featureSet,
  isCodec,
  isCrossTalkError,
  MemoryCookieTable,
  type SniffResult,
} from '../src/index.js';

function fakeCodec(protocol: string, sniff: (head: Uint8Array) => SniffResult, priority?: number) {
  return defineCodec({
    protocol,
    networks: [protocol],
    features: featureSet('im'),
    ...(priority === undefined ? {} : { priority }),
    sniff,
    createFramer: () =>
      new FixedHeaderFramer({ protocol, headerSize: 1, defaultMaxFrameSize: 10, frameLength: () => 1 }),
    frames: {
      decode: (b) => b,
      encode: (b) => b,
      toJson: (b) => [...b],
      fromJson: (j) => Uint8Array.from(j as number[]),
    },
    createTranslator: () => ({ self: undefined, toEvents: () => [], fromEvent: () => [] }),
    openSession: () => ({
      protocol,
      state: 'connecting',
      user: undefined,
      fromClient: emptyOutput,
      fromServer: emptyOutput,
      deliver: emptyOutput,
      close: emptyOutput,
      affinity: () => 0,
    }),
  });
}

describe('codec contract', () => {
  it('brands codecs by a registered symbol, not instanceof', () => {
    const c = fakeCodec('alpha', () => 'no');
    expect(isCodec(c)).toBe(true);
    expect(isCodec({ ...c })).toBe(true); // a copy from another module instance keeps the brand
    expect(isCodec({ protocol: 'alpha' })).toBe(false);
    expect(c[Symbol.for('@crosstalk/codec') as never]).toBe(true);
  });

  it('defineCodec rejects incomplete codecs naming what is missing', () => {
    expect(() => defineCodec({ ...fakeCodec('x', () => 'no'), protocol: 'Bad Name' })).toThrow(/lower-case/);
    expect(() => defineCodec({ ...fakeCodec('x', () => 'no'), networks: [] })).toThrow(/no networks/);
    expect(() => defineCodec({ ...fakeCodec('x', () => 'no'), sniff: undefined as never })).toThrow(
      /lacks sniff/,
    );
  });

  it('the registry sniffs by explicit priority, not registration order', () => {
    const low = fakeCodec('low', () => 'yes', 1);
    const high = fakeCodec('high', (h) => (h.length < 2 ? 'more' : h[0] === 1 ? 'yes' : 'no'), 5);
    const registry = new CodecRegistry([low, high]);
    expect(registry.list().map((c) => c.protocol)).toEqual(['high', 'low']);
    expect(registry.sniff(Uint8Array.of(1), 'client')).toBe('more');
    expect(registry.sniff(Uint8Array.of(1, 2), 'client')).toBe(high);
    expect(registry.sniff(Uint8Array.of(2, 2), 'client')).toBe(low);
    expect(new CodecRegistry([high]).sniff(Uint8Array.of(2, 2), 'client')).toBeUndefined();
  });

  it('an unknown protocol names the ones available', () => {
    const registry = new CodecRegistry([fakeCodec('alpha', () => 'no')]);
    expect(() => registry.get('beta')).toThrow(/available: alpha/);
    expect(() => new CodecRegistry().get('beta')).toThrow(/no codecs are registered/);
    expect(() => registry.register(fakeCodec('alpha', () => 'no'))).toThrow(/already registered/);
    try {
      registry.get('beta');
    } catch (error) {
      expect(isCrossTalkError(error, 'ERR_CODEC_NOT_FOUND')).toBe(true);
    }
  });
});

describe('cookie table', () => {
  it('ties a cookie to its owner until it expires or is forgotten', () => {
    let now = 0;
    const table = new MemoryCookieTable({ ttl: 1000, now: () => now });
    const alice = { user: 'alice', network: 'aol' };
    table.record('oscar', 'c0ffee', alice, { bos: 'x' });
    expect(table.lookup('oscar', 'c0ffee')).toEqual({ owner: alice, data: { bos: 'x' } });
    expect(table.lookup('msnp', 'c0ffee')).toBeUndefined();
    now = 1000;
    expect(table.lookup('oscar', 'c0ffee')).toBeUndefined();
    table.record('oscar', 'beef', alice);
    table.forget('oscar', 'beef');
    expect(table.lookup('oscar', 'beef')).toBeUndefined();
  });

  it('expires oldest first; a cookie recorded again lives from its new record', () => {
    let now = 0;
    const table = new MemoryCookieTable({ ttl: 1000, now: () => now });
    const alice = { user: 'alice', network: 'aol' };
    table.record('x', 'a', alice);
    now = 400;
    table.record('x', 'b', alice);
    now = 800;
    table.record('x', 'a', alice); // renewed: now expires at 1800, after b
    now = 1500;
    expect(table.size).toBe(1);
    expect(table.lookup('x', 'b')).toBeUndefined();
    expect(table.lookup('x', 'a')).toBeDefined();
    now = 1800;
    expect(table.size).toBe(0);
  });

  it('stays bounded', () => {
    const table = new MemoryCookieTable({ maxEntries: 3 });
    for (let i = 0; i < 10; i++) table.record('x', String(i), { user: 'u', network: 'aol' });
    expect(table.size).toBe(3);
    expect(table.lookup('x', '9')).toBeDefined();
    expect(table.lookup('x', '0')).toBeUndefined();
  });
});
