import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { CrossTalkError } from '@crosstalk/core';
import { afterEach, describe, expect, it } from 'vitest';
import { connectDataChannel, DataChannelListener } from '../src/channel/data-channel.js';
import type { DataChannelGrant } from '../src/file/frames.js';

const HOST = '127.0.0.1';

/** A listener whose refusals are kept, closed after each test. */
function listening(
  options: { grantTimeout?: number; handshakeTimeout?: number; maxConnections?: number } = {},
) {
  const refusals: CrossTalkError[] = [];
  const listener = new DataChannelListener({
    host: HOST,
    ...options,
    onRefused: (error) => refusals.push(error),
  });
  opened.push(listener);
  return { listener, refusals };
}
const opened: DataChannelListener[] = [];
afterEach(async () => {
  for (const listener of opened.splice(0)) await listener.close();
});

/** Resolves once `check` holds, polling (the listener hears a refusal a moment after the client). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

/** A TLS connection to the listener with options of the test's choosing; resolves with how it ended. */
function tryTls(port: number, options: object): Promise<'connected' | 'refused'> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: HOST, port, checkServerIdentity: () => undefined, ...options });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', () => resolve('refused'));
    socket.once('close', () => resolve('refused'));
  });
}

describe('the file data channel (TLS 1.2 PSK)', () => {
  it('a grant connects once, and bytes cross both ways', async () => {
    const { listener, refusals } = listening();
    const issued = await listener.issue();
    const client = await connectDataChannel(HOST, issued.grant);
    const server = await issued.connection;
    expect(client.getCipher().standardName).toBe('TLS_PSK_WITH_AES_256_GCM_SHA384');
    expect(client.getProtocol()).toBe('TLSv1.2');
    client.write('to the sender');
    expect(String((await once(server, 'data'))[0])).toBe('to the sender');
    server.write('to the receiver');
    expect(String((await once(client, 'data'))[0])).toBe('to the receiver');
    expect(listener.opened).toBe(1);
    expect(refusals).toEqual([]);
    client.destroy();
    server.destroy();
  });

  it('an identity it never issued: refused (DataChannelUnknownIdentityError), counted', async () => {
    const { listener, refusals } = listening();
    const { grant } = await listener.issue();
    const forged: DataChannelGrant = { ...grant, identity: new Uint8Array(randomBytes(16)) };
    await expect(connectDataChannel(HOST, forged)).rejects.toMatchObject({
      code: 'ERR_DATA_CHANNEL_UNAVAILABLE',
    });
    await until(() => refusals.length > 0);
    expect(refusals.map((e) => e.code)).toEqual(['ERR_DATA_CHANNEL_UNKNOWN_IDENTITY']);
    expect(listener.refused.get('ERR_DATA_CHANNEL_UNKNOWN_IDENTITY')).toBe(1);
    expect(listener.opened).toBe(0);
  });

  it('an identity used once already: refused the second time', async () => {
    const { listener, refusals } = listening();
    const issued = await listener.issue();
    const first = await connectDataChannel(HOST, issued.grant);
    await expect(connectDataChannel(HOST, issued.grant)).rejects.toMatchObject({
      code: 'ERR_DATA_CHANNEL_UNAVAILABLE',
    });
    await until(() => refusals.length > 0);
    expect(refusals.map((e) => e.code)).toEqual(['ERR_DATA_CHANNEL_UNKNOWN_IDENTITY']);
    expect(listener.opened).toBe(1);
    first.destroy();
    (await issued.connection).destroy();
  });

  it('the right identity with a wrong key: the handshake fails (DataChannelHandshakeError), the grant with it', async () => {
    const { listener, refusals } = listening();
    const issued = await listener.issue();
    const wrongKey: DataChannelGrant = { ...issued.grant, key: new Uint8Array(randomBytes(32)) };
    await expect(connectDataChannel(HOST, wrongKey)).rejects.toMatchObject({
      code: 'ERR_DATA_CHANNEL_UNAVAILABLE',
    });
    await expect(issued.connection).rejects.toMatchObject({ code: 'ERR_DATA_CHANNEL_HANDSHAKE' });
    expect(refusals.map((e) => e.code)).toEqual(['ERR_DATA_CHANNEL_HANDSHAKE']);
    // Used up: the right key after a wrong one does not get in.
    await expect(connectDataChannel(HOST, issued.grant)).rejects.toMatchObject({
      code: 'ERR_DATA_CHANNEL_UNAVAILABLE',
    });
    expect(listener.opened).toBe(0);
  });

  it('a connection that never completes the handshake: closed (DataChannelHandshakeTimeoutError)', async () => {
    // A short handshake timeout so the test does not wait the default 5 s; the check is on the outcome.
    const { listener, refusals } = listening({ handshakeTimeout: 150 });
    await listener.issue();
    const silent = netConnect(listener.port!, HOST);
    await once(silent, 'connect');
    await once(silent, 'close');
    await until(() => refusals.length > 0);
    expect(refusals.map((e) => e.code)).toEqual(['ERR_DATA_CHANNEL_HANDSHAKE_TIMEOUT']);
  });

  it('TLS 1.3, or TLS 1.2 with another cipher: refused (DataChannelHandshakeError)', async () => {
    const { listener, refusals } = listening();
    const issued = await listener.issue();
    const psk = {
      psk: Buffer.from(issued.grant.key),
      identity: Buffer.from(issued.grant.identity).toString('hex'),
    };
    expect(
      await tryTls(listener.port!, {
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
        pskCallback: () => psk,
      }),
    ).toBe('refused');
    expect(
      await tryTls(listener.port!, {
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ciphers: 'PSK-AES128-GCM-SHA256',
        pskCallback: () => psk,
      }),
    ).toBe('refused');
    // A certificate suite, no PSK at all.
    expect(
      await tryTls(listener.port!, {
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
      }),
    ).toBe('refused');
    await until(() => refusals.length >= 3);
    expect(refusals.map((e) => e.code)).toEqual([
      'ERR_DATA_CHANNEL_HANDSHAKE',
      'ERR_DATA_CHANNEL_HANDSHAKE',
      'ERR_DATA_CHANNEL_HANDSHAKE',
    ]);
    // None of them used the grant up: the allowed version and cipher still get in.
    const client = await connectDataChannel(HOST, issued.grant);
    (await issued.connection).destroy();
    client.destroy();
  });

  it('connections over the limit are closed on arrival; a grant still gets in once one leaves', async () => {
    const { listener } = listening({ maxConnections: 2 });
    const issued = await listener.issue();
    const silent = [netConnect(listener.port!, HOST), netConnect(listener.port!, HOST)];
    await Promise.all(silent.map((s) => once(s, 'connect')));
    await until(() => listener.connections === 2);
    const third = netConnect(listener.port!, HOST);
    await once(third, 'close');
    expect(listener.connections).toBe(2);
    for (const s of silent) s.destroy();
    await until(() => listener.connections === 0);
    const client = await connectDataChannel(HOST, issued.grant);
    (await issued.connection).destroy();
    client.destroy();
  });

  it('a grant nobody connects to expires (DataChannelExpiredError), and its identity with it', async () => {
    // Short, so the test does not wait the default 10 s; the check is on the outcome.
    const { listener, refusals } = listening({ grantTimeout: 100 });
    const issued = await listener.issue();
    await expect(issued.connection).rejects.toMatchObject({ code: 'ERR_DATA_CHANNEL_EXPIRED' });
    await expect(connectDataChannel(HOST, issued.grant)).rejects.toMatchObject({
      code: 'ERR_DATA_CHANNEL_UNAVAILABLE',
    });
    await until(() => refusals.length > 0);
    expect(refusals.map((e) => e.code)).toEqual(['ERR_DATA_CHANNEL_UNKNOWN_IDENTITY']);
  });

  it('a revoked grant: its identity is refused', async () => {
    const { listener, refusals } = listening();
    const issued = await listener.issue();
    issued.revoke();
    await expect(issued.connection).rejects.toMatchObject({ code: 'ERR_DATA_CHANNEL_EXPIRED' });
    await expect(connectDataChannel(HOST, issued.grant)).rejects.toMatchObject({
      code: 'ERR_DATA_CHANNEL_UNAVAILABLE',
    });
    await until(() => refusals.length > 0);
    expect(refusals.map((e) => e.code)).toEqual(['ERR_DATA_CHANNEL_UNKNOWN_IDENTITY']);
  });
});
