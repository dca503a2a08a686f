import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { addressKey, parseAddress } from '@crosstalk/core';
import { HardStateSchema } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDir } from '../../gateway/test/support/temp-dir.js';
import { type NetworkFixture, startYmsgNetwork, type UserDriver } from '../src/drivers/index.js';
import { LineSplitter } from '../src/io.js';

/**
 * Crash durability: a gateway in its own process takes a burst of buddy requests and answers for
 * offline foreign users from scripted Yahoo users, and is killed with SIGKILL at a random point of
 * the burst (seeded). What the gateway acknowledged (`pending-held`, printed by the child once the
 * state write is durable) must all be in the state file after the restart, the file must parse, and
 * no temporary file may remain. Several rounds on the same state file, so each restart also keeps
 * what the rounds before it acknowledged.
 */
const SEED = 0x5eed2026;
const ROUNDS = 5;
const USERS = ['cd0', 'cd1', 'cd2', 'cd3'];
const ITEMS_PER_USER = 6;

let yahoo: NetworkFixture;
/** Gateway processes still running, killed when the test ends however it ends. */
const running = new Set<ChildProcessByStdio<null, Readable, Readable>>();
beforeAll(async () => {
  yahoo = await startYmsgNetwork(USERS.map((name) => ({ name, password: `${name}pw` })));
}, 30_000);
afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await yahoo?.stop();
});

/** mulberry32: a small seeded generator, so a failing round can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Held {
  kind: 'buddy-request' | 'buddy-response';
  from: string;
  to: string;
  accepted?: boolean;
}

interface Child {
  process: ChildProcessByStdio<null, Readable, Readable>;
  socks: { host: string; port: number };
  held: Held[];
  /** Resolves once `n` acknowledgements have been read. */
  acknowledged(n: number): Promise<void>;
  exited: Promise<unknown[]>;
}

const script = fileURLToPath(new URL('./support/crash-gateway.ts', import.meta.url));

async function startChild(stateFile: string): Promise<Child> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@crosstalk/source', script, stateFile],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  const exited = once(child, 'exit');
  void exited.then(() => running.delete(child));
  const held: Held[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = new LineSplitter();
  const ready = new Promise<{ host: string; port: number }>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      for (const line of lines.push(d.toString())) {
        const message = JSON.parse(line) as { ready?: { host: string; port: number }; held?: Held };
        if (message.ready) resolve(message.ready);
        if (message.held) held.push(message.held);
      }
      for (const w of waiters.filter((w) => held.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
    void exited.then(([code]) =>
      reject(new Error(`the gateway exited (${code}) before it was ready: ${stderr}`)),
    );
  });
  return {
    process: child,
    socks: await ready,
    held,
    exited,
    acknowledged: (n) =>
      held.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
  };
}

/** The state file after a restart: it parses, every acknowledged request is in it, no temporary file. */
async function checkState(dir: string, stateFile: string, acknowledged: readonly Held[]): Promise<void> {
  expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  const state = HardStateSchema.parse(JSON.parse(await readFile(stateFile, 'utf8')));
  const pending = state.pending.map((p) => {
    const r = p.request as Held;
    return JSON.stringify([r.kind, r.from, r.to, r.accepted]);
  });
  for (const held of acknowledged) {
    expect(pending).toContain(JSON.stringify([held.kind, held.from, held.to, held.accepted]));
    const owner = state.users[addressKey(parseAddress(held.from))];
    const buddy = owner?.foreignBuddies.find((b) => b.address === held.to);
    expect(buddy, `${held.to} in ${held.from}'s foreign buddies`).toBeDefined();
    if (held.kind === 'buddy-request') expect(buddy!.pending).toBe(true);
    else expect(buddy!.subscription).toBe('none');
  }
}

describe('crash durability', () => {
  it('kill -9 during a burst of buddy requests and answers loses nothing acknowledged', async () => {
    const next = random(SEED);
    const dir = await testDir('crash');
    const stateFile = join(dir, 'state.json');
    const acknowledged: Held[] = [];
    let child = await startChild(stateFile);
    for (let round = 0; round < ROUNDS; round++) {
      const drivers: UserDriver[] = USERS.map((name) =>
        yahoo.driver(name, (host, port) => socksConnect(child.socks, host, port)),
      );
      if (process.env.CRASH_DEBUG) process.stderr.write(`round ${round}: start ${Date.now()}\n`);
      await Promise.all(drivers.map((d) => d.login()));
      if (process.env.CRASH_DEBUG) process.stderr.write(`round ${round}: logged in ${Date.now()}\n`);
      // Requests to foreign users and refusals of foreign users' requests, all offline: each is held.
      const burst = drivers.flatMap((d, u) =>
        Array.from({ length: ITEMS_PER_USER }, (_, j) => {
          const foreign = parseAddress(`r${round}u${u}i${j}@aol`);
          return j % 2 === 0 ? d.addBuddy(foreign, 'hi') : d.answerBuddyRequest(foreign, false);
        }),
      );
      for (const work of burst) work.catch(() => {}); // the kill cuts them off
      // A random point: after some acknowledgements, then a little later still.
      const total = USERS.length * ITEMS_PER_USER;
      await child.acknowledged(Math.floor(next() * total));
      await new Promise((resolve) => setTimeout(resolve, Math.floor(next() * 30)));
      child.process.kill('SIGKILL');
      await child.exited;
      acknowledged.push(...child.held);
      if (process.env.CRASH_DEBUG)
        process.stderr.write(`round ${round}: ${child.held.length}/${total} acknowledged at ${Date.now()}\n`);
      for (const d of drivers) await d.disconnect().catch(() => {});
      child = await startChild(stateFile);
      await checkState(dir, stateFile, acknowledged);
    }
    // The rounds did acknowledge things (a burst can end before the kill; most rounds it does not).
    expect(acknowledged.length).toBeGreaterThan(ROUNDS);
    child.process.kill('SIGTERM');
    expect((await child.exited)[0]).toBe(0);
    await checkState(dir, stateFile, acknowledged);
  }, 120_000);
});
