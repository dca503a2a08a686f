import { startSessionRelay } from '@crosstalk/compliance';
import { describe, expect, it } from 'vitest';
import { msnp } from '../src/index.js';
import { directDial, ScriptedMsnpClient, startMockMsnpServer } from '../src/testing/index.js';

/** The README's examples, as written there (console.log replaced by assertions). */
describe('README examples', () => {
  it('decodes a switchboard message into a frame and an im event', () => {
    const codec = msnp();
    const bytes = new TextEncoder().encode(
      'MSG bob@example.com Bob 82\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHi Alice \u263a (UTF-8)',
    );
    const framer = codec.createFramer('server');
    const translator = codec.createTranslator({ self: { user: 'alice@example.com', network: 'msn' } });
    const frames = framer.push(bytes);
    expect(frames).toHaveLength(1);
    const frame = codec.frames.decode(frames[0]!, 'server');
    expect(codec.frames.toJson(frame)).toEqual({
      type: 'command',
      verb: 'MSG',
      args: ['bob@example.com', 'Bob'],
      payloadText:
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHi Alice \u263a (UTF-8)',
    });
    expect(translator.toEvents(frame, 'server')).toMatchObject([
      {
        kind: 'im',
        from: { user: 'bob@example.com', network: 'msn' },
        to: { user: 'alice@example.com', network: 'msn' },
        text: 'Hi Alice ☺ (UTF-8)',
      },
    ]);
  });

  it('runs the proxy example against the mock server', async () => {
    const server = await startMockMsnpServer({
      users: [{ email: 'alice@example.com', password: 'alicepw', friendly: 'Alice' }],
    });
    const relay = await startSessionRelay({
      codec: msnp(),
      upstream: server,
      foreignRoster: () => [
        {
          address: { user: 'bob', network: 'yahoo' },
          name: 'Bob',
          groups: [],
          subscription: 'both',
          pending: false,
        },
      ],
    });
    const alice = new ScriptedMsnpClient({
      host: server.host,
      port: server.port,
      email: 'alice@example.com',
      password: 'alicepw',
      dialect: 12,
      passport: (email, password) => server.issueTicket(email, password),
      dial: (host, port) =>
        port === server.port || port === server.sbPort
          ? directDial(relay.host, relay.port)
          : directDial(host, port),
    });
    try {
      await alice.login();
      expect(relay.events.map((e) => e.event.type)).toEqual(['identified', 'verified']);
      const contacts = await alice.sync();
      expect(contacts).toMatchObject([{ email: 'bob@yahoo', friendly: 'Bob', lists: 11 }]);
      const chat = await alice.openConversation('bob@yahoo');
      expect(await chat.sendMessage('hi Bob')).toBe('ACK');
      expect(relay.events.find((e) => e.event.type === 'outbound')?.event).toMatchObject({
        event: { kind: 'im', to: { user: 'bob', network: 'yahoo' }, text: 'hi Bob' },
      });
      relay.deliver({
        kind: 'im',
        id: '1',
        from: { user: 'bob', network: 'yahoo' },
        to: { user: 'alice@example.com', network: 'msn' },
        text: 'hello Alice',
        sentAt: Date.now(),
      });
      expect(await chat.nextMessage()).toMatchObject({
        from: 'bob@yahoo',
        friendly: 'Bob',
        text: 'hello Alice',
      });
    } finally {
      await alice.logout();
      await relay.close();
      await server.close();
    }
  });
});
