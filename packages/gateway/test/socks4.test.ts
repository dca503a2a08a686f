import { isCrossTalkError } from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSocks4Request, socks4ConnectRequest, socks4Reply } from '../src/index.js';

describe('SOCKS4/4a requests', () => {
  it('parses a SOCKS4 CONNECT to an IPv4 address', () => {
    const bytes = Uint8Array.from([4, 1, 0x14, 0x46, 127, 0, 0, 1, ...Buffer.from('alice'), 0]);
    expect(parseSocks4Request(bytes)).toEqual({
      done: true,
      request: { command: 1, host: '127.0.0.1', port: 5190, userId: 'alice', socks4a: false },
      consumed: bytes.length,
    });
  });

  it('parses SOCKS4a (0.0.0.x then a host name after the user id)', () => {
    const bytes = socks4ConnectRequest('LocalHost', 1863, 'bob');
    const parsed = parseSocks4Request(bytes);
    expect(parsed).toMatchObject({
      done: true,
      request: { host: 'localhost', port: 1863, userId: 'bob', socks4a: true },
    });
  });

  it('asks for more at every prefix, and leaves pipelined bytes unconsumed', () => {
    const request = socks4ConnectRequest('example.test', 5222, 'u');
    for (let n = 0; n < request.length; n++)
      expect(parseSocks4Request(request.subarray(0, n)).done).toBe(false);
    const withData = Uint8Array.from([...request, 0x3c, 0x3f]);
    expect(parseSocks4Request(withData)).toMatchObject({ done: true, consumed: request.length });
  });

  it('rejects other versions, overlong fields and bad host names with typed errors', () => {
    const cases: Uint8Array[] = [
      Uint8Array.of(5, 1, 0, 0),
      Uint8Array.from([4, 1, 0, 80, 1, 2, 3, 4, ...new Uint8Array(300).fill(0x41)]),
      Uint8Array.from([4, 1, 0, 80, 0, 0, 0, 1, 0, ...Buffer.from('bad host!'), 0]),
      Uint8Array.from([4, 1, 0, 80, 0, 0, 0, 1, 0, 0]),
    ];
    for (const bytes of cases) {
      try {
        parseSocks4Request(bytes);
        expect.unreachable();
      } catch (error) {
        expect(isCrossTalkError(error, 'ERR_SOCKS_PROTOCOL')).toBe(true);
      }
    }
  });

  it('never throws untyped errors on garbage (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        try {
          parseSocks4Request(bytes);
        } catch (error) {
          expect(isCrossTalkError(error)).toBe(true);
        }
      }),
    );
  });

  it('replies with 8 bytes: version 0 and the code', () => {
    expect([...socks4Reply(90)]).toEqual([0, 90, 0, 0, 0, 0, 0, 0]);
  });
});
