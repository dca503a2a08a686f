import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChannelSend, SocketLane } from '../src/cluster/socket-lane.js';

type Message = { t: string; n?: number };

const SOCKETS = 100;
const counter = fileURLToPath(new URL('./support/socket-counter.cjs', import.meta.url));

/** `n` connected sockets (client ends) to a listener on 127.0.0.1. */
async function sockets(server: Server, n: number): Promise<Socket[]> {
  const { port } = server.address() as { port: number };
  return Promise.all(
    Array.from({ length: n }, async () => {
      const s = connect(port, '127.0.0.1');
      await once(s, 'connect');
      return s;
    }),
  );
}

async function child(): Promise<ChildProcess> {
  const proc = fork(counter, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await once(proc, 'message');
  return proc;
}

/** How many sockets the child had taken when a ping sent after `n` of them reached it. */
async function pingAfterSockets(proc: ChildProcess, send: (m: Message, h?: Socket) => void, list: Socket[]) {
  for (const s of list) send({ t: 'socks' }, s);
  const pong = once(proc, 'message');
  send({ t: 'ping' });
  return ((await pong)[0] as { sockets: number }).sockets;
}

describe('SocketLane on a real IPC channel', () => {
  let server: Server;
  const accepted: Socket[] = [];

  beforeAll(async () => {
    server = createServer((s) => accepted.push(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  afterAll(async () => {
    for (const s of accepted) s.destroy();
    server.close();
  });

  it("Node's own channel holds a message behind every socket sent before it", async () => {
    const proc = await child();
    const raw = (m: Message, h?: Socket) => (h ? proc.send(m, h, { keepOpen: false }) : proc.send(m));
    expect(await pingAfterSockets(proc, raw, await sockets(server, SOCKETS))).toBe(SOCKETS);
    proc.kill();
  });

  it('through the lane, the message overtakes the sockets still waiting', async () => {
    const proc = await child();
    const lane = new SocketLane<Message>((m, h, callback) =>
      h ? proc.send(m, h, { keepOpen: false }, callback) : proc.send(m, callback),
    );
    const list = await sockets(server, SOCKETS);
    const seen = await pingAfterSockets(proc, (m, h) => lane.send(m, h), list);
    expect(seen).toBeLessThanOrEqual(2);
    // The sockets still all arrive, after it.
    for (;;) {
      const pong = once(proc, 'message');
      proc.send({ t: 'ping' });
      if (((await pong)[0] as { sockets: number }).sockets === SOCKETS) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(lane.waiting).toBe(0);
    proc.kill();
  });
});

/** A channel that writes each message on the next tick (as Node does), recording the order. */
function fakeChannel(fail?: (m: Message) => boolean) {
  const sent: string[] = [];
  const send: ChannelSend<Message> = (message, handle, callback) => {
    const label = `${message.t}${message.n ?? ''}${handle ? '+socket' : ''}`;
    process.nextTick(() => {
      if (fail?.(message)) {
        callback?.(new Error('channel closed'));
        return;
      }
      sent.push(label);
      callback?.(null);
    });
  };
  return { sent, send };
}

const fakeSocket = () => {
  let destroyed = false;
  return {
    socket: {
      destroy() {
        destroyed = true;
      },
    } as unknown as Socket,
    destroyed: () => destroyed,
  };
};

describe('SocketLane', () => {
  it('keeps a hand-off message behind the socket it goes with', async () => {
    const { sent, send } = fakeChannel();
    const lane = new SocketLane<Message>(send);
    lane.send({ t: 'handoff-client', n: 1 }, fakeSocket().socket);
    lane.send({ t: 'handoff-socks', n: 1 });
    lane.send({ t: 'handoff-client', n: 2 }, fakeSocket().socket);
    lane.send({ t: 'handoff-session', n: 2 });
    lane.send({ t: 'handoff-upstream', n: 2 }, fakeSocket().socket);
    lane.send({ t: 'cookie' });
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual([
      'handoff-client1+socket',
      'cookie',
      'handoff-socks1',
      'handoff-client2+socket',
      'handoff-session2',
      'handoff-upstream2+socket',
    ]);
  });

  it('a socket that could not be sent is destroyed (or given to `failed`), and the lane goes on', async () => {
    const { sent, send } = fakeChannel((m) => m.n === 1);
    const lane = new SocketLane<Message>(send);
    const first = fakeSocket();
    const second = fakeSocket();
    let failed = 0;
    lane.send({ t: 'socks', n: 1 }, first.socket);
    lane.send({ t: 'socks', n: 1 }, second.socket, () => failed++);
    lane.send({ t: 'socks', n: 3 }, fakeSocket().socket);
    await new Promise((r) => setTimeout(r, 10));
    expect(first.destroyed()).toBe(true);
    expect(second.destroyed()).toBe(false);
    expect(failed).toBe(1);
    expect(sent).toEqual(['socks3+socket']);
  });

  it('drop destroys what waits', () => {
    const lane = new SocketLane<Message>(() => {});
    const waiting = fakeSocket();
    lane.send({ t: 'socks' }, fakeSocket().socket);
    lane.send({ t: 'socks' }, waiting.socket);
    expect(lane.waiting).toBe(1);
    lane.drop();
    expect(waiting.destroyed()).toBe(true);
    expect(lane.waiting).toBe(0);
  });
});
