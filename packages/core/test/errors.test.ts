import { describe, expect, it } from 'vitest';
import * as core from '../src/index.js';
import {
  CrossTalkError,
  FrameTooLargeError,
  isCrossTalkError,
  MalformedFrameError,
  toProtocolError,
} from '../src/index.js';

describe('errors', () => {
  const classes = Object.entries(core).filter(
    ([name, v]) =>
      typeof v === 'function' && v.prototype instanceof CrossTalkError && name !== 'ProtocolError',
  ) as [string, new (...args: never[]) => CrossTalkError][];

  it('every error class has a fixed name equal to its class name and a unique code', () => {
    const codes = new Set<string>();
    for (const [exportName, Class] of classes) {
      const error = new (Class as unknown as new (...a: unknown[]) => CrossTalkError)('p', [], 1, 2);
      expect(error.name).toBe(exportName);
      expect(error.code).toMatch(/^ERR_[A-Z0-9_]+$/); // ERR_G2G_AUTH
      expect(codes.has(error.code)).toBe(false);
      codes.add(error.code);
      expect(isCrossTalkError(error)).toBe(true);
      expect(isCrossTalkError(error, error.code)).toBe(true);
      expect(typeof error.isRetryable).toBe('boolean');
    }
    expect(classes.length).toBeGreaterThan(15);
  });

  it('is recognised across module copies by brand, not instanceof', () => {
    const e = new MalformedFrameError('oscar', 'bad', { offset: 7 });
    const copy = Object.assign(Object.create(null), e, {
      [Symbol.for('@crosstalk/error')]: true,
      code: e.code,
    });
    expect(isCrossTalkError(copy, 'ERR_MALFORMED_FRAME')).toBe(true);
    expect(isCrossTalkError(new Error('x'))).toBe(false);
    expect(e.toJSON()).toEqual({
      name: 'MalformedFrameError',
      code: 'ERR_MALFORMED_FRAME',
      message: 'oscar: bad',
      offset: 7,
    });
  });

  it('toProtocolError keeps a protocol error (filling in a missing offset) and wraps anything else', () => {
    const own = new FrameTooLargeError('ymsg', 10, 5);
    expect(toProtocolError(own, 'ymsg', 40)).toBe(own);
    expect(own.offset).toBe(40);
    expect(toProtocolError(own, 'ymsg', 99).offset).toBe(40);
    const bug = new TypeError('x is undefined');
    const wrapped = toProtocolError(bug, 'msnp', 7);
    expect(wrapped).toBeInstanceOf(MalformedFrameError);
    expect(wrapped.message).toBe('msnp: x is undefined');
    expect(wrapped.offset).toBe(7);
    expect(wrapped.cause).toBe(bug);
    expect(toProtocolError('odd', 'xmpp').offset).toBeUndefined();
  });
});
