import { describe, expect, it } from 'vitest';
import {
  formatNameAddr,
  formatSipUri,
  formatVia,
  parseAuthValue,
  parseCSeq,
  parseNameAddr,
  parseSipUri,
  parseVia,
  SipSyntaxError,
  splitHeaderList,
  tagOf,
} from '../src/index.js';

describe('SIP grammar (RFC 3261 §19.1, §20, §25.1)', () => {
  it('parses SIP URIs: user, password, host, IPv6, port, parameters, headers; writes them back', () => {
    const uri = parseSipUri('sip:alice:pw@Example.COM:5070;transport=tcp;lr?subject=hi');
    expect(uri).toEqual({
      scheme: 'sip',
      user: 'alice',
      password: 'pw',
      host: 'example.com',
      port: 5070,
      params: [
        ['transport', 'tcp'],
        ['lr', undefined],
      ],
      headers: 'subject=hi',
    });
    expect(formatSipUri(uri)).toBe('sip:alice:pw@example.com:5070;transport=tcp;lr?subject=hi');
    expect(parseSipUri('sips:[2001:db8::1]:5061').host).toBe('[2001:db8::1]');
    expect(parseSipUri('sip:+1-212-555-1212;npdi@gw.example.com;user=phone').user).toBe(
      '+1-212-555-1212;npdi',
    );
    for (const bad of [
      'tel:+1234',
      'sip:',
      'sip:a@',
      'sip:a@b:99999',
      'sip:a@b:x',
      'sip:a b@c',
      'sip:a@[::1',
      'sip:a@b;=x',
    ]) {
      expect(() => parseSipUri(bad), bad).toThrow(SipSyntaxError);
    }
  });

  it('parses name-addr and addr-spec: display names with commas and <, header parameters outside the URI', () => {
    const quoted = parseNameAddr('"Doe, John <the boss>" <sip:john@x;transport=tcp>;tag=abc;expires=60');
    expect(quoted).toEqual({
      display: 'Doe, John <the boss>',
      uri: 'sip:john@x;transport=tcp',
      params: [
        ['tag', 'abc'],
        ['expires', '60'],
      ],
    });
    expect(formatNameAddr(quoted)).toBe(
      '"Doe, John <the boss>" <sip:john@x;transport=tcp>;tag=abc;expires=60',
    );
    // RFC 3261 §20.10: without <>, parameters after the URI belong to the header.
    expect(parseNameAddr('sip:bob@y;tag=1')).toEqual({ uri: 'sip:bob@y', params: [['tag', '1']] });
    expect(tagOf('<sip:a@b>;tag=xyz')).toBe('xyz');
    expect(tagOf('<sip:a@b>')).toBeUndefined();
    expect(parseNameAddr('<sip:a@b>;+sip.instance="<urn:uuid:1;2>"').params).toEqual([
      ['+sip.instance', '"<urn:uuid:1;2>"'],
    ]);
    expect(() => parseNameAddr('<sip:a@b')).toThrow(SipSyntaxError);
  });

  it('splits header lists at commas outside quotes and <>', () => {
    expect(splitHeaderList('"a, b" <sip:x>, <sip:y;p=1,2>, sip:z')).toEqual([
      '"a, b" <sip:x>',
      '<sip:y;p=1,2>',
      'sip:z',
    ]);
  });

  it('parses Via with spaces around slashes, parameters and IPv6 sent-by', () => {
    const via = parseVia('SIP / 2.0 / udp 127.0.0.1:5060 ;branch=z9hG4bK1;rport;received=10.0.0.1');
    expect(via.transport).toBe('UDP');
    expect(via.host).toBe('127.0.0.1');
    expect(via.port).toBe(5060);
    expect(formatVia(via)).toBe('SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1;rport;received=10.0.0.1');
    expect(parseVia('SIP/2.0/TCP [::1]:5062;branch=z9hG4bK2').host).toBe('[::1]');
    expect(() => parseVia('SIP/2.0 127.0.0.1')).toThrow(SipSyntaxError);
  });

  it('parses CSeq and authorization values', () => {
    expect(parseCSeq('  42   INVITE ')).toEqual({ seq: 42, method: 'INVITE' });
    expect(() => parseCSeq('42')).toThrow(SipSyntaxError);
    const auth = parseAuthValue('Digest username="a\\"b", realm="r", nc=00000001, qop=auth');
    expect(auth.scheme).toBe('Digest');
    expect(auth.params.get('username')).toBe('a"b');
    expect(auth.params.get('nc')).toBe('00000001');
    expect(() =>
      parseAuthValue(`Digest ${Array.from({ length: 40 }, (_, i) => `p${i}=1`).join(', ')}`),
    ).toThrow(/too many/);
  });
});
