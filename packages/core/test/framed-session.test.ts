import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Address,
  type CanonicalEvent,
  type Direction,
  FramedProxySession,
  featureSet,
  LineFramer,
  MalformedFrameError,
  type SessionOutput,
  SessionStateError,
  StreamClosedError,
  splitUtf8,
  UnsupportedEventError,
} from '../src/index.js';

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);
const text = (parts: Uint8Array[]) => parts.map((p) => Buffer.from(p).toString('utf8')).join('');

/**
 * A toy line protocol: `LOGIN name` names the user, the server's `OK name` confirms it and `NO
 * reason` refuses it; `MSG to text` to `to@other` is withheld and reported; `BAD` is unreadable.
 */
class ToySession extends FramedProxySession {
  constructor() {
    super({
      protocol: 'toy',
      createFramer: () => new LineFramer({ protocol: 'toy', terminator: '\n', defaultMaxFrameSize: 64 }),
      features: featureSet('im'),
      lossyKinds: ['typing'],
    });
  }

  protected onFrame(raw: Uint8Array, direction: Direction, out: SessionOutput): void {
    const [verb, arg = '', rest = ''] = Buffer.from(raw).toString('utf8').trim().split(' ');
    if (verb === 'BAD') throw new MalformedFrameError('toy', `unreadable ${direction} line`);
    if (direction === 'client' && verb === 'LOGIN') this.identify({ user: arg, network: 'toy' }, out);
    if (direction === 'server' && verb === 'OK' && arg === this.user?.user) this.verify(out);
    if (direction === 'server' && verb === 'NO') this.loginFailed(out, 'NO', arg);
    if (direction === 'client' && verb === 'MSG' && this.acting && arg.endsWith('@other')) {
      const to: Address = { user: arg.slice(0, -'@other'.length), network: 'other' };
      out.events.push({
        type: 'outbound',
        event: { kind: 'im', id: '1', from: this.user!, to, text: rest, sentAt: 0 },
      });
      return;
    }
    // A server frame is first reported, then found wrong (so the rollback has something to drop).
    if (verb === 'LATE') out.events.push({ type: 'redirect', host: 'h', port: 1, purpose: 'p' });
    if (verb === 'LATE') throw new MalformedFrameError('toy', 'found wrong late');
    (direction === 'client' ? out.toServer : out.toClient).push(raw);
  }

  protected write(event: CanonicalEvent, out: SessionOutput): void {
    if (event.kind === 'im') out.toClient.push(bytes(`MSG ${event.from.user} ${event.text}\n`));
  }
}

const im = (html?: string): CanonicalEvent => ({
  kind: 'im',
  id: 'm',
  from: { user: 'bob', network: 'other' },
  to: { user: 'alice', network: 'toy' },
  text: 'hi',
  sentAt: 0,
  ...(html ? { html } : {}),
});
const typing = {
  kind: 'typing',
  from: { user: 'bob', network: 'other' },
  to: { user: 'alice', network: 'toy' },
  state: 'composing',
} as const satisfies CanonicalEvent;

function verified(): ToySession {
  const session = new ToySession();
  session.fromClient(bytes('LOGIN alice\n'));
  session.fromServer(bytes('OK alice\n'));
  return session;
}

describe('FramedProxySession', () => {
  it('runs the identity gate: identified on the client word, verified only on the server word', () => {
    const session = new ToySession();
    expect(session.fromClient(bytes('LOGIN mallory\nLOGIN alice\n')).events).toEqual([
      { type: 'identified', address: { user: 'mallory', network: 'toy' } },
      { type: 'identified', address: { user: 'alice', network: 'toy' } },
    ]);
    expect(session.state).toBe('identified');
    expect(() => session.deliver(im())).toThrow(SessionStateError);
    expect(session.affinity(im())).toBe(0);
    expect(session.fromServer(bytes('OK bob\n')).events).toEqual([]);
    expect(session.fromServer(bytes('OK alice\n')).events).toEqual([
      { type: 'verified', address: { user: 'alice', network: 'toy' } },
    ]);
    expect(session.state).toBe('verified');
    expect(session.user).toEqual({ user: 'alice', network: 'toy' });
    // A name given after the login is verified changes nothing.
    expect(session.fromClient(bytes('LOGIN mallory\n')).events).toEqual([]);
    expect(session.user).toEqual({ user: 'alice', network: 'toy' });
  });

  it('reports a refused login with the user the client named', () => {
    const session = new ToySession();
    session.fromClient(bytes('LOGIN alice\n'));
    expect(session.fromServer(bytes('NO banned\n')).events).toEqual([
      { type: 'login-failed', address: { user: 'alice', network: 'toy' }, code: 'NO', message: 'banned' },
    ]);
  });

  it('frames across chunks and returns each side joined, never aliasing the chunk', () => {
    const session = verified();
    const chunk = bytes('MSG carol hello\nMSG bob@other hi\nMSG ca');
    const out = session.fromClient(chunk);
    expect(out.toServer).toHaveLength(1);
    expect(text(out.toServer)).toBe('MSG carol hello\n');
    expect(out.events.map((e) => e.type)).toEqual(['outbound']);
    chunk.fill(0);
    expect(text(out.toServer)).toBe('MSG carol hello\n');
    expect(text(session.fromClient(bytes('rol x\n')).toServer)).toBe('MSG carol x\n');
  });

  it('passes an unreadable server frame on untouched, with what onFrame reported for it dropped', () => {
    const session = verified();
    const out = session.fromServer(bytes('HI\nLATE x\nBAD\nBYE\n'));
    expect(text(out.toClient)).toBe('HI\nLATE x\nBAD\nBYE\n');
    expect(out.events.map((e) => e.type)).toEqual(['untranslated', 'untranslated']);
    expect(out.events[0]).toMatchObject({ direction: 'server', error: { code: 'ERR_MALFORMED_FRAME' } });
    expect(session.state).toBe('verified');
  });

  it('closes on an unreadable client frame, and refuses every chunk after it', () => {
    const session = verified();
    expect(() => session.fromClient(bytes('BAD\n'))).toThrow(MalformedFrameError);
    expect(session.state).toBe('closed');
    expect(() => session.fromServer(bytes('HI\n'))).toThrow(StreamClosedError);
  });

  it('ends with a closed event when the framer fails after good frames', () => {
    const session = verified();
    const out = session.fromServer(bytes(`HI\n${'x'.repeat(100)}`));
    expect(text(out.toClient)).toBe('HI\n');
    expect(out.events).toEqual([expect.objectContaining({ type: 'closed', error: expect.any(Error) })]);
    expect(session.state).toBe('closed');
    expect(() => session.fromClient(bytes('MSG a b\n'))).toThrow(StreamClosedError);
  });

  it('closes when the framer throws', () => {
    const session = new ToySession();
    expect(() => session.fromClient(bytes('x'.repeat(100)))).toThrow();
    expect(session.state).toBe('closed');
  });

  it('delivers reduced to its features, reporting the loss; a lossy kind is only lost', () => {
    const session = verified();
    const out = session.deliver(im('<b>hi</b>'));
    expect(text(out.toClient)).toBe('MSG bob hi\n');
    expect(out.events).toEqual([{ type: 'feature-loss', event: im('<b>hi</b>'), lost: ['im.html'] }]);
    expect(session.deliver(typing)).toEqual({
      toServer: [],
      toClient: [],
      events: [{ type: 'feature-loss', event: typing, lost: ['typing'] }],
    });
    expect(session.affinity(im())).toBe(1);
    expect(session.affinity(typing)).toBe(1);
    const buddy: CanonicalEvent = { kind: 'buddy-request', from: typing.from, to: typing.to };
    expect(session.affinity(buddy)).toBe(0);
    expect(() => session.deliver(buddy)).toThrow(UnsupportedEventError);
  });

  it('is closed after close(), and delivers nothing', () => {
    const session = verified();
    expect(session.close('bye')).toEqual({ toServer: [], toClient: [], events: [] });
    expect(session.state).toBe('closed');
    expect(() => session.deliver(im())).toThrow(SessionStateError);
    expect(session.affinity(im())).toBe(0);
  });
});

describe('splitUtf8', () => {
  it('cuts at code points, never inside a character', () => {
    expect(splitUtf8('abcdef', 4)).toEqual(['abcd', 'ef']);
    expect(splitUtf8('ééé', 3)).toEqual(['é', 'é', 'é']);
    expect(splitUtf8('a😀b', 5)).toEqual(['a😀', 'b']);
    expect(splitUtf8('', 10)).toEqual(['']);
    // A character longer than the limit is a piece of its own; a lone surrogate is written as U+FFFD.
    expect(splitUtf8('😀😀', 2)).toEqual(['😀', '😀']);
    expect(splitUtf8('\uD800ab', 4)).toEqual(['\uD800a', 'b']);
  });

  it('gives pieces that join to the text, each within the limit, each as full as it can be', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 4, max: 40 }), (s, max) => {
        const pieces = splitUtf8(s, max);
        expect(pieces.join('')).toBe(s);
        pieces.forEach((piece, i) => {
          expect(enc.encode(piece).length).toBeLessThanOrEqual(max);
          const next = pieces[i + 1];
          if (next)
            expect(enc.encode(piece + String.fromCodePoint(next.codePointAt(0)!)).length).toBeGreaterThan(
              max,
            );
        });
      }),
    );
  });
});
