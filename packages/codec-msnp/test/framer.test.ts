import { isCrossTalkError } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { CommandFramer } from '../src/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => enc.encode(s);
const texts = (frames: Uint8Array[]) => frames.map((f) => dec.decode(f));

function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('CommandFramer', () => {
  it('splits lines and payload commands, many per chunk', () => {
    const f = new CommandFramer('server');
    const stream = 'ACK 3\r\nMSG bob@example.com Bob 5\r\nhelloBYE bob@example.com\r\n';
    expect(texts(f.push(bytes(stream)))).toEqual([
      'ACK 3\r\n',
      'MSG bob@example.com Bob 5\r\nhello',
      'BYE bob@example.com\r\n',
    ]);
  });

  it('knows which commands carry a payload in each direction', () => {
    // `QRY trid id 32` carries 32 bytes from the client; the server's `QRY trid` carries none.
    const client = new CommandFramer('client');
    const qry = `QRY 10 msmsgs@msnmsgr.com 32\r\n${'a'.repeat(32)}`;
    expect(texts(client.push(bytes(`${qry}PNG\r\n`)))).toEqual([qry, 'PNG\r\n']);
    const server = new CommandFramer('server');
    expect(texts(server.push(bytes('QRY 10\r\nQNG 60\r\n')))).toEqual(['QRY 10\r\n', 'QNG 60\r\n']);
    // `UBX user len` is a server payload command; a client `UBX` line is not.
    expect(texts(new CommandFramer('server').push(bytes('UBX a@b.c 2\r\nhiFLN a@b.c\r\n')))).toEqual([
      'UBX a@b.c 2\r\nhi',
      'FLN a@b.c\r\n',
    ]);
    // `ADL trid OK` (server) has no payload; `ADL 0 4` has one.
    expect(texts(new CommandFramer('server').push(bytes('ADL 5 OK\r\nADL 0 4\r\n<ml>')))).toEqual([
      'ADL 5 OK\r\n',
      'ADL 0 4\r\n<ml>',
    ]);
  });

  it('keeps Escargot trailing spaces and bare-LF lines intact', () => {
    const f = new CommandFramer('server');
    const lst = 'LST N=a@b.c F=A C=907f1207-b0df-4a4b-8412-29eb169b2d39 11 1 \r\n';
    expect(texts(f.push(bytes(`${lst}OUT\n`)))).toEqual([lst, 'OUT\n']);
  });

  it('assembles a frame split across chunks, byte by byte', () => {
    const f = new CommandFramer('client');
    const msg = 'MSG 3 N 12\r\nHi there \xe2\x98\xba';
    const raw = Uint8Array.from(msg, (c) => c.charCodeAt(0));
    const frames: Uint8Array[] = [];
    for (const b of raw) frames.push(...f.push(Uint8Array.of(b)).map((x) => x.slice()));
    expect(frames).toHaveLength(1);
    expect(frames[0]).toEqual(raw);
    expect(f.buffered).toBe(0);
    f.end();
  });

  it('refuses a payload length over the cap before buffering anything', () => {
    const f = new CommandFramer('client', { maxFrameSize: 1024 });
    const error = errorOf(() => f.push(bytes('MSG 1 A 999999\r\n')));
    expect(isCrossTalkError(error, 'ERR_FRAME_TOO_LARGE')).toBe(true);
    expect(f.buffered).toBe(0);
    // Terminal: the same error again.
    expect(errorOf(() => f.push(bytes('PNG\r\n')))).toBe(error);
    expect(f.error).toBe(error);
  });

  it('refuses a length beyond maxBuffered as a buffer overflow', () => {
    const f = new CommandFramer('server', { maxFrameSize: 4096, maxBuffered: 100 });
    expect(
      isCrossTalkError(
        errorOf(() => f.push(bytes('MSG a@b.c A 200\r\n'))),
        'ERR_BUFFER_OVERFLOW',
      ),
    ).toBe(true);
  });

  it('refuses an endless line once it passes the line cap, even without a newline', () => {
    const f = new CommandFramer('client', { maxLineLength: 64 });
    expect(f.push(bytes('VER 1 MSNP8 '))).toEqual([]);
    const error = errorOf(() => f.push(bytes('x'.repeat(100))));
    expect(isCrossTalkError(error, 'ERR_FRAME_TOO_LARGE')).toBe(true);
    expect(f.buffered).toBe(0);
  });

  it('refuses a payload command without a length', () => {
    const f = new CommandFramer('client');
    expect(
      isCrossTalkError(
        errorOf(() => f.push(bytes('MSG 1 A x\r\n'))),
        'ERR_MALFORMED_FRAME',
      ),
    ).toBe(true);
  });

  it('delivers the good frames that precede bad bytes, then is terminal', () => {
    const f = new CommandFramer('client');
    const frames = f.push(bytes('PNG\r\nMSG 1 A nope\r\n'));
    expect(texts(frames)).toEqual(['PNG\r\n']);
    expect(isCrossTalkError(f.error, 'ERR_MALFORMED_FRAME')).toBe(true);
    expect(errorOf(() => f.push(bytes('PNG\r\n')))).toBe(f.error);
  });

  it('reports a stream that ends inside a frame', () => {
    const f = new CommandFramer('server');
    f.push(bytes('MSG a@b.c A 10\r\nabc'));
    expect(
      isCrossTalkError(
        errorOf(() => f.end()),
        'ERR_TRUNCATED_STREAM',
      ),
    ).toBe(true);
  });

  it('copies what it keeps, so the caller may reuse its chunk', () => {
    const f = new CommandFramer('server');
    const chunk = bytes('MSG a@b.c A 4\r\nab');
    f.push(chunk);
    chunk.fill(0x21);
    const [frame] = f.push(bytes('cd'));
    expect(dec.decode(frame)).toBe('MSG a@b.c A 4\r\nabcd');
  });
});
