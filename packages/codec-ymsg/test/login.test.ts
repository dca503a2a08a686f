import { describe, expect, it } from 'vitest';
import {
  decodePacket,
  YmsgKey as K,
  md5crypt,
  YmsgService as S,
  v1Response,
  v1Secrets,
  y64,
} from '../src/index.js';
import { transcript } from './helpers.js';

describe('YMSG9/10 v1 login (libyahoo2 yahoo_process_auth_pre_0x0b)', () => {
  it('md5crypt matches the published $1$ vectors', () => {
    // Each is what `openssl passwd -1 -salt SALT PASSWORD` prints.
    expect(md5crypt('davepw', '$1$_2S43d5f$')).toBe('$1$_2S43d5f$gbzLbrtiFlgHPPD/Zg6Is0');
    expect(md5crypt('password', '$1$saltsalt$')).toBe('$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/');
    expect(md5crypt('', '$1$$')).toBe('$1$$qRPK7m23GJusamGpoGLby/');
  });

  it('Y64 is base64 with . _ -', () => {
    expect(y64(Uint8Array.of(0xfb, 0xff, 0xfe, 0x00))).toBe('.__.AA--');
  });

  it('the recorded password hashes reproduce from the transcript users passwords', () => {
    // Transcript comments: Y64(md5(pw)) and Y64(md5(md5crypt(pw, "$1$_2S43d5f$"))) for dave.
    expect(v1Secrets('davepw')).toEqual({
      passwordHash: 'X2mwDpu7QwTWHRKGeqXpAQ--',
      cryptHash: 'kXW52BsGjUj0ZD8OHMWbnA--',
    });
  });

  it('the recorded AUTHRESP keys 6 and 96 reproduce from password and challenge for every user', () => {
    const entries = transcript('ymsg10_escargot');
    const passwords: Record<string, string> = { dave: 'davepw', erin: 'erinpw', frank: 'frankpw' };
    let checked = 0;
    for (const conn of ['YMSG/dave', 'YMSG/erin', 'YMSG/frank']) {
      const mine = entries.filter((e) => e.conn === conn).map((e) => decodePacket(e.bytes));
      const challenge = mine.find((p) => p.service === S.AUTH && p.has(K.CHALLENGE))!;
      const answer = mine.find((p) => p.service === S.AUTHRESP)!;
      const user = answer.get(K.USERNAME)!;
      const { key6, key96 } = v1Response(user, challenge.get(K.CHALLENGE)!, passwords[user]!);
      expect([key6, key96], conn).toEqual([answer.get(K.HASH_PASSWORD), answer.get(K.HASH_CRYPT)]);
      checked++;
    }
    expect(checked).toBe(3);
  });

  it('covers all five layouts of challenge[15] % 8', () => {
    const layouts = new Set<number>();
    const [right, wrong] = [v1Secrets('davepw'), v1Secrets('davepx')];
    for (let c = 0x21; c < 0x7f; c++) {
      const challenge = `ABCDEFGHIJKLMNO${String.fromCharCode(c)}QRSTUV--`;
      layouts.add((c % 8) % 5);
      const a = v1Response('dave', challenge, right);
      const b = v1Response('dave', challenge, wrong);
      expect(a.key6).not.toBe(b.key6);
      expect(a.key96).toMatch(/^[A-Za-z0-9._]{22}--$/);
    }
    expect(layouts.size).toBe(5);
  });
});
