import { isCrossTalkError } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SIP_LIMITS,
  parseDatagram,
  SipContentLengthError,
  SipHeaders,
  SipMessageTooLargeError,
  type SipRequest,
  SipStreamFramer,
  type SipStreamItem,
  SipSyntaxError,
  serializeSipMessage,
} from '../src/index.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

// An INVITE as sipp's uac scenario sends it (RFC 3261 §7, with an SDP body, RFC 4566).
const SDP =
  'v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
const INVITE = [
  'INVITE sip:service@127.0.0.1:5060 SIP/2.0',
  'Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0',
  'From: sipp <sip:sipp@127.0.0.1:5061>;tag=1SIPpTag001',
  'To: service <sip:service@127.0.0.1:5060>',
  'Call-ID: 1-1@127.0.0.1',
  'CSeq: 1 INVITE',
  'Contact: sip:sipp@127.0.0.1:5061',
  'Max-Forwards: 70',
  'Subject: Performance Test',
  'Content-Type: application/sdp',
  `Content-Length: ${SDP.length}`,
  '',
  SDP,
].join('\r\n');

const RINGING = [
  'SIP/2.0 180 Ringing',
  'v: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0, SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKx',
  'f: <sip:sipp@127.0.0.1:5061>;tag=1SIPpTag001',
  't: <sip:service@127.0.0.1:5060>;tag=abc',
  'i: 1-1@127.0.0.1',
  'CSeq: 1 INVITE',
  'Subject: folded',
  '  over two lines',
  'l: 0',
  '',
  '',
].join('\r\n');

function fail(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('did not throw');
}

describe('SIP message parsing (RFC 3261 §7, §18.3)', () => {
  it('reads a request: start line, headers in order, a body of exactly Content-Length bytes', () => {
    const message = parseDatagram(enc(INVITE)) as SipRequest;
    expect(message.kind).toBe('request');
    expect(message.method).toBe('INVITE');
    expect(message.uri).toBe('sip:service@127.0.0.1:5060');
    expect(message.headers.get('call-id')).toBe('1-1@127.0.0.1');
    expect(message.headers.get('CSEQ')).toBe('1 INVITE');
    expect(dec(message.body)).toBe(SDP);
  });

  it('expands compact forms, splits comma lists, unfolds continuation lines', () => {
    const message = parseDatagram(enc(RINGING));
    expect(message?.kind).toBe('response');
    if (message?.kind !== 'response') return;
    expect(message.status).toBe(180);
    expect(message.reason).toBe('Ringing');
    expect(message.headers.list('via')).toEqual([
      'SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0',
      'SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKx',
    ]);
    expect(message.headers.get('call-id')).toBe('1-1@127.0.0.1');
    expect(message.headers.get('subject')).toBe('folded over two lines');
    // Written back with the full names.
    expect(dec(serializeSipMessage(message))).toContain('Call-ID: 1-1@127.0.0.1\r\n');
    expect(dec(serializeSipMessage(message))).toContain('Via: SIP/2.0/UDP');
  });

  it('writes what it reads: parse(serialize(m)) is m', () => {
    const first = parseDatagram(enc(INVITE)) as SipRequest;
    const again = parseDatagram(serializeSipMessage(first)) as SipRequest;
    expect(again.headers.entries()).toEqual(first.headers.entries());
    expect(dec(again.body)).toBe(SDP);
    expect(dec(serializeSipMessage(again))).toBe(dec(serializeSipMessage(first)));
  });

  it('takes the rest of a datagram as the body when there is no Content-Length, and discards bytes past it', () => {
    const without = parseDatagram(enc(INVITE.replace(/Content-Length: \d+\r\n/, '')));
    expect(dec(without?.body ?? new Uint8Array())).toBe(SDP);
    const extra = parseDatagram(enc(`${INVITE}trailing junk`));
    expect(dec(extra?.body ?? new Uint8Array())).toBe(SDP);
    expect(parseDatagram(enc('\r\n\r\n'))).toBeUndefined();
  });

  it('refuses a Content-Length larger than the datagram, with the headers to answer 400', () => {
    const error = fail(() =>
      parseDatagram(enc(INVITE.replace(/Content-Length: \d+/, 'Content-Length: 9999'))),
    );
    expect(error).toBeInstanceOf(SipContentLengthError);
    expect((error as SipContentLengthError).isRequest).toBe(true);
    expect((error as SipContentLengthError).headers?.get('call-id')).toBe('1-1@127.0.0.1');
  });

  it('checks the caps before allocating: header section, header count, stated body size', () => {
    const limits = { ...DEFAULT_SIP_LIMITS, maxHeaderBytes: 1024, maxBodyBytes: 100, maxHeaderCount: 12 };
    const longHeader = INVITE.replace('Subject: Performance Test', `Subject: ${'x'.repeat(2000)}`);
    const tooLong = fail(() => parseDatagram(enc(longHeader), limits));
    expect(tooLong).toBeInstanceOf(SipMessageTooLargeError);
    expect((tooLong as SipMessageTooLargeError).part).toBe('headers');
    const body = fail(() =>
      parseDatagram(enc(INVITE.replace(/Content-Length: \d+/, 'Content-Length: 4000000000')), limits),
    );
    expect((body as SipMessageTooLargeError).part).toBe('body');
    expect((body as SipMessageTooLargeError).size).toBe(4_000_000_000);
    const many = INVITE.replace(
      'Subject: Performance Test',
      Array.from({ length: 5 }, (_, i) => `X-${i}: y`).join('\r\n'),
    );
    expect(fail(() => parseDatagram(enc(many), limits)).message).toMatch(/more than 12 header lines/);
  });

  it('refuses what RFC 3261 §8.1.1 forbids, keeping the headers so the request can be answered', () => {
    const cases: [string, RegExp][] = [
      [INVITE.replace('CSeq: 1 INVITE', 'CSeq: 1 BYE'), /CSeq method BYE in a INVITE request/],
      [INVITE.replace('CSeq: 1 INVITE', 'CSeq: 2147483648 INVITE'), /bad CSeq/],
      [INVITE.replace('CSeq: 1 INVITE', 'CSeq: INVITE'), /bad CSeq/],
      [INVITE.replace(/Call-ID: .*\r\n/, ''), /no call-id header/],
      [INVITE.replace('Via: SIP/2.0/UDP', 'Via: SIP/3.0/UDP'), /bad Via/],
      [INVITE.replace('Max-Forwards: 70', 'Max-Forwards: lots'), /bad Max-Forwards/],
      [INVITE.replace(/Content-Length: \d+/, 'Content-Length: 0x10'), /bad Content-Length/],
      [INVITE.replace('Subject: Performance Test', 'Subject Performance Test'), /bad header line/],
      [INVITE.replace('Subject: Performance Test', 'Subject: a\u0000b'), /control character/],
      [
        INVITE.replace('INVITE sip:service@127.0.0.1:5060 SIP/2.0', 'INVITE  sip:x SIP/2.0'),
        /bad start line/,
      ],
    ];
    for (const [text, pattern] of cases) {
      const error = fail(() => parseDatagram(enc(text)));
      expect(error, text.slice(0, 40)).toBeInstanceOf(SipSyntaxError);
      expect(error.message).toMatch(pattern);
      expect(isCrossTalkError(error, 'ERR_SIP_SYNTAX')).toBe(true);
    }
    const cseq = fail(() =>
      parseDatagram(enc(INVITE.replace('CSeq: 1 INVITE', 'CSeq: 1 BYE'))),
    ) as SipSyntaxError;
    expect(cseq.isRequest).toBe(true);
    expect(cseq.headers?.get('via')).toMatch(/^SIP\/2\.0\/UDP/);
  });

  it('refuses a header section that is not UTF-8', () => {
    const bytes = new Uint8Array([...enc(INVITE.slice(0, 60)), 0xff, 0xfe, ...enc(INVITE.slice(60))]);
    expect(fail(() => parseDatagram(bytes)).message).toMatch(/not UTF-8/);
  });
});

describe('SIP stream framing (TCP, RFC 3261 §18.3)', () => {
  const stream = enc(`${INVITE}\r\n\r\n${RINGING}${INVITE}`);
  const messages = (items: SipStreamItem[]) =>
    items
      .filter((i) => i.kind === 'message')
      .map((i) => (i.kind === 'message' ? dec(serializeSipMessage(i.message)) : ''));
  const whole = messages(new SipStreamFramer().push(stream));

  it('splits a stream into messages, with a CRLFCRLF between them as a keep-alive ping', () => {
    const items = new SipStreamFramer().push(stream);
    expect(items.map((i) => i.kind)).toEqual(['message', 'ping', 'message', 'message']);
    expect(whole).toHaveLength(3);
  });

  it('gives the same messages whatever the chunking: split at every offset, and a byte at a time', () => {
    for (let cut = 1; cut < stream.length; cut += 7) {
      const framer = new SipStreamFramer();
      const items = [...framer.push(stream.subarray(0, cut)), ...framer.push(stream.subarray(cut))];
      expect(messages(items)).toEqual(whole);
    }
    const framer = new SipStreamFramer();
    const items: SipStreamItem[] = [];
    for (const byte of stream) items.push(...framer.push(new Uint8Array([byte])));
    expect(messages(items)).toEqual(whole);
    expect(framer.buffered).toBe(0);
  });

  it('waits for a body as long as Content-Length says, and reads the next message after it', () => {
    const framer = new SipStreamFramer();
    const cut = INVITE.length - 10;
    expect(framer.push(enc(INVITE.slice(0, cut)))).toEqual([]);
    expect(messages(framer.push(enc(`${INVITE.slice(cut)}${INVITE}`)))).toHaveLength(2);
  });

  it('answers a bad message that frames cleanly and reads on (wrong CSeq)', () => {
    const framer = new SipStreamFramer();
    const items = framer.push(enc(`${INVITE.replace('CSeq: 1 INVITE', 'CSeq: 1 BYE')}${INVITE}`));
    expect(items.map((i) => i.kind)).toEqual(['invalid', 'message']);
  });

  it('stops at an unreadable stream: no Content-Length, or a header section past the cap; terminal afterwards', () => {
    const framer = new SipStreamFramer();
    const items = framer.push(enc(`${INVITE}${INVITE.replace(/Content-Length: \d+\r\n/, '')}`));
    expect(items.map((i) => i.kind)).toEqual(['message', 'error']);
    const error = items[1]?.kind === 'error' ? items[1].error : undefined;
    expect(error?.message).toMatch(/no Content-Length/);
    expect(() => framer.push(enc(INVITE))).toThrow(/stream is closed/);

    const capped = new SipStreamFramer({ ...DEFAULT_SIP_LIMITS, maxHeaderBytes: 2048 });
    let result: SipStreamItem[] = [];
    let fed = 0;
    const chunk = enc(`X-Filler: ${'z'.repeat(500)}\r\n`);
    result.push(...capped.push(enc('INVITE sip:a@b SIP/2.0\r\n')));
    while (result.length === 0) {
      result = capped.push(chunk);
      fed += chunk.length;
      // Never more than the cap plus one chunk held.
      expect(capped.buffered).toBeLessThanOrEqual(2048 + 4 + chunk.length);
    }
    expect(fed).toBeLessThan(4096);
    expect(result[0]?.kind === 'error' && result[0].error).toBeInstanceOf(SipMessageTooLargeError);
  });
});

describe('SipHeaders', () => {
  it('prepends before the first of a kind, shifts one element of a list, keeps other headers in place', () => {
    const h = new SipHeaders([
      { name: 'Via', value: 'SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2' },
      { name: 'To', value: '<sip:x@y>' },
      { name: 'Route', value: '<sip:r1;lr>' },
      { name: 'route', value: '<sip:r2;lr>' },
    ]);
    h.prepend('Via', 'SIP/2.0/TCP c;branch=z9hG4bK0');
    expect(h.list('via')).toHaveLength(3);
    expect(h.shift('via')).toBe('SIP/2.0/TCP c;branch=z9hG4bK0');
    expect(h.shift('via')).toBe('SIP/2.0/UDP a;branch=z9hG4bK1');
    expect(h.getAll('via')).toEqual(['SIP/2.0/UDP b;branch=z9hG4bK2']);
    expect(h.shift('route')).toBe('<sip:r1;lr>');
    expect(h.list('Route')).toEqual(['<sip:r2;lr>']);
    expect(h.entries().map((e) => e.name)).toEqual(['Via', 'To', 'Route']);
  });
});
