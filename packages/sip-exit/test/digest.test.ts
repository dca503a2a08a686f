import { describe, expect, it } from 'vitest';
import { DigestAuthenticator, digestResponse, parseAuthValue } from '../src/index.js';

describe('digest authentication (RFC 2617, RFC 3261 §22.4)', () => {
  it('computes RFC 2617 §3.5 example response', () => {
    expect(
      digestResponse({
        user: 'Mufasa',
        realm: 'testrealm@host.com',
        password: 'Circle Of Life',
        method: 'GET',
        uri: '/dir/index.html',
        nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
        qop: { nc: '00000001', cnonce: '0a4f113b' },
      }),
    ).toBe('6629fae49393a05397450978507c4ef1');
  });

  let now = 1_700_000_000_000;
  const auth = new DigestAuthenticator({
    realm: 'sip.test',
    password: (u) => (u === 'alice' ? 'secret' : undefined),
    now: () => now,
  });
  const credentials = (
    challenge: string,
    o: { user?: string; password?: string; nc?: string; uri?: string } = {},
  ) => {
    const params = parseAuthValue(challenge).params;
    const nonce = params.get('nonce') as string;
    const nc = o.nc ?? '00000001';
    const uri = o.uri ?? 'sip:sip.test';
    const response = digestResponse({
      user: o.user ?? 'alice',
      realm: 'sip.test',
      password: o.password ?? 'secret',
      method: 'REGISTER',
      uri,
      nonce,
      qop: { nc, cnonce: 'c0ffee' },
    });
    return `Digest username="${o.user ?? 'alice'}", realm="sip.test", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="c0ffee"`;
  };

  it('challenges with a fresh nonce, MD5 and qop=auth', () => {
    const challenge = parseAuthValue(auth.challenge());
    expect(challenge.scheme).toBe('Digest');
    expect(challenge.params.get('realm')).toBe('sip.test');
    expect(challenge.params.get('algorithm')).toBe('MD5');
    expect(challenge.params.get('qop')).toBe('auth');
    expect(challenge.params.get('nonce')).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(auth.verify('REGISTER', 'sip:sip.test', [])).toEqual({ ok: false, reason: 'missing' });
  });

  it('accepts the right password, and refuses a wrong one, another URI, an unknown user', () => {
    const challenge = auth.challenge();
    expect(auth.verify('REGISTER', 'sip:sip.test', [credentials(challenge)])).toEqual({
      ok: true,
      user: 'alice',
    });
    expect(
      auth.verify('REGISTER', 'sip:sip.test', [
        credentials(challenge, { password: 'guess', nc: '00000002' }),
      ]),
    ).toEqual({
      ok: false,
      reason: 'wrong',
    });
    expect(
      auth.verify('REGISTER', 'sip:sip.test', [credentials(challenge, { uri: 'sip:other', nc: '00000003' })]),
    ).toEqual({
      ok: false,
      reason: 'wrong',
    });
    expect(auth.verify('REGISTER', 'sip:sip.test', [credentials(challenge, { user: 'eve' })])).toEqual({
      ok: false,
      reason: 'unknown-user',
    });
  });

  it('refuses a replayed nonce count, a nonce it did not issue, and says stale after the lifetime', () => {
    const challenge = auth.challenge();
    const once = credentials(challenge, { nc: '00000005' });
    expect(auth.verify('REGISTER', 'sip:sip.test', [once]).ok).toBe(true);
    expect(auth.verify('REGISTER', 'sip:sip.test', [once])).toEqual({ ok: false, reason: 'replay' });
    expect(auth.verify('REGISTER', 'sip:sip.test', [credentials(challenge, { nc: '00000004' })])).toEqual({
      ok: false,
      reason: 'replay',
    });
    expect(auth.verify('REGISTER', 'sip:sip.test', [credentials(challenge, { nc: '00000006' })]).ok).toBe(
      true,
    );
    const forged = credentials(challenge).replace(
      /nonce="[^"]+"/,
      'nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"',
    );
    expect(auth.verify('REGISTER', 'sip:sip.test', [forged])).toEqual({ ok: false, reason: 'bad-nonce' });
    now += 5 * 60 * 1000 + 1;
    expect(auth.verify('REGISTER', 'sip:sip.test', [credentials(challenge, { nc: '00000007' })])).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(auth.challenge(true)).toMatch(/stale=true/);
  });

  it('calls garbage malformed', () => {
    for (const bad of [
      'Digest',
      'Digest username',
      'Digest username="a',
      'Digest username="a", username="b"',
    ]) {
      expect(auth.verify('REGISTER', 'sip:sip.test', [bad])).toEqual({ ok: false, reason: 'malformed' });
    }
    const challenge = auth.challenge();
    const sha = credentials(challenge).replace('algorithm=MD5', 'algorithm=SHA-256');
    expect(auth.verify('REGISTER', 'sip:sip.test', [sha])).toEqual({ ok: false, reason: 'malformed' });
  });
});
