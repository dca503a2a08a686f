import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Address, formatAddress } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { SharedCookieTable } from '../src/cluster/shared-cookies.js';
import { workerOf } from '../src/cluster/steering.js';
import { stopReading } from '../src/engine/connection.js';
import { VirtualEndpointTable } from '../src/engine/virtual-endpoints.js';

// The pieces of a host of several workers that need no worker processes; the host itself, with
// real clients, is packages/cli/test/e2e-workers.test.ts.

const child = fileURLToPath(new URL('./support/hand-off-child.ts', import.meta.url));
const RUN_FROM_SOURCE = ['--import', 'tsx', '--conditions=@crosstalk/source'];

describe('workerOf', () => {
  it('gives every user one worker, the same in every process, spread over all workers', () => {
    const users: Address[] = Array.from({ length: 4000 }, (_, i) => ({ user: `user${i}`, network: 'aol' }));
    const counts = [0, 0, 0, 0];
    for (const u of users) counts[workerOf(u, 4)]!++;
    // Each of 4 workers gets a share near a quarter (a hash, not a table): within 10%.
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(100);
    // The address key decides: spelling (case) does not move a user.
    expect(workerOf({ user: 'Alice', network: 'aol' }, 4)).toBe(
      workerOf({ user: 'alice', network: 'aol' }, 4),
    );
    expect(users.every((u) => workerOf(u, 1) === 0)).toBe(true);
    expect(formatAddress(users[0]!)).toBe('user0@aol');
  });
});

describe('VirtualEndpointTable with workers', () => {
  it('allocates from its own block, and names the worker that holds any other address', () => {
    const tables = [0, 1, 2].map((index) => new VirtualEndpointTable({ worker: { index, count: 3 } }));
    const mine = tables.map((t) => t.allocate('msnp', {}));
    for (const [i, t] of tables.entries()) {
      for (const [j, a] of mine.entries())
        expect(t.ownerElsewhere(a.host, a.port)).toBe(i === j ? undefined : j);
      expect(t.take(mine[i]!.host, mine[i]!.port)).toEqual({ protocol: 'msnp', data: {} });
    }
    // Not a virtual endpoint: nobody's.
    expect(tables[0]!.ownerElsewhere('127.0.0.1', 1864)).toBeUndefined();
    expect(tables[0]!.ownerElsewhere(mine[1]!.host, 1863)).toBeUndefined();
    // One worker: every address is its own.
    const alone = new VirtualEndpointTable();
    expect(alone.ownerElsewhere(mine[1]!.host, mine[1]!.port)).toBeUndefined();
  });
});

describe('SharedCookieTable', () => {
  it('holds the bytes carrying a new cookie until the primary passed it on, and only then', async () => {
    const sent: unknown[] = [];
    const table = new SharedCookieTable((op) => sent.push(op));
    const owner = { user: 'alice', network: 'aol' };
    // Nothing recorded since the mark: nothing to wait for.
    let mark = table.mark();
    expect(table.after(mark)).toBeUndefined();
    mark = table.mark();
    table.record('oscar', 'c1', owner, { purpose: 'bos' });
    expect(table.lookup('oscar', 'c1')).toEqual({ owner, data: { purpose: 'bos' } });
    expect(sent).toEqual([
      { t: 'cookie', op: 'record', seq: 1, protocol: 'oscar', cookie: 'c1', owner, data: { purpose: 'bos' } },
    ]);
    const wait = table.after(mark)!;
    let passed = false;
    void wait.then(() => {
      passed = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(passed).toBe(false);
    table.acknowledged(1);
    await wait;
    expect(passed).toBe(true);
    // Another worker's cookie, and a forget, as the primary passes them on.
    table.apply({ t: 'cookie', op: 'record', protocol: 'msnp', cookie: 'c2', owner, data: null });
    expect(table.lookup('msnp', 'c2')?.owner).toEqual(owner);
    table.forget('oscar', 'c1');
    expect(table.lookup('oscar', 'c1')).toBeUndefined();
    expect(sent.at(-1)).toEqual({ t: 'cookie', op: 'forget', protocol: 'oscar', cookie: 'c1' });
  });
});

describe('stopReading: a socket handed on through a process in between loses no byte', () => {
  it('a stream read partly in one process, passed through this one, and read to its end in a third', async () => {
    // The server writes a numbered stream without pause while the socket is handed on, as a
    // client may go on writing while its connection travels from worker to primary to worker.
    const total = 4 * 1024 * 1024;
    const stream = Buffer.alloc(total);
    for (let i = 0; i < total / 4; i++) stream.writeUInt32BE(i, i * 4);
    const server = createServer((s) => {
      let at = 0;
      const pump = () => {
        while (at < total) {
          const end = Math.min(total, at + 1024);
          const ok = s.write(stream.subarray(at, end));
          at = end;
          if (!ok) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const taker = fork(child, ['take'], { execArgv: RUN_FROM_SOURCE, serialization: 'advanced' });
    const sender = fork(child, ['send', '127.0.0.1', String(port), String(64 * 1024)], {
      execArgv: RUN_FROM_SOURCE,
      serialization: 'advanced',
    });
    const [first] = (await once(sender, 'message')) as [{ bytes: Uint8Array }];
    const [, handle] = (await once(sender, 'message')) as [unknown, Socket];
    // As the primary does: the socket it receives must not be read here.
    stopReading(handle);
    taker.send({ t: 'take' }, handle, { keepOpen: false });
    const [rest] = (await once(taker, 'message')) as [{ bytes: Uint8Array }];
    sender.kill();
    taker.kill();
    server.close();
    const got = Buffer.concat([first.bytes, rest.bytes]);
    expect(first.bytes.length).toBeGreaterThanOrEqual(64 * 1024);
    expect(got.length).toBe(total);
    expect(got.equals(stream)).toBe(true);
  }, 60_000);
});
