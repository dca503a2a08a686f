import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { dhtSuite } from '@crosstalk/compliance';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HyperDhtStore, type NodeAddress } from '../src/index.js';

// The compliance suite, unchanged, where every DHT node runs in another process: this process only
// has the stores' own (ephemeral, client) nodes, bootstrapped from the address the child printed.
const script = fileURLToPath(new URL('./fixtures/testnet-process.ts', import.meta.url));
let child: ChildProcess;
let bootstrap: NodeAddress[];

beforeAll(async () => {
  child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@crosstalk/source', script, '12'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  for await (const chunk of child.stdout!) {
    out += chunk;
    if (out.includes('\n')) break;
  }
  ({ bootstrap } = JSON.parse(out.slice(0, out.indexOf('\n'))) as { bootstrap: NodeAddress[] });
});

afterAll(async () => {
  if (!child || child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin!.end();
  await exited;
});

it('the DHT nodes run in the child process, on loopback', () => {
  expect(bootstrap.length).toBeGreaterThan(0);
  for (const node of bootstrap) expect(node.host).toBe('127.0.0.1');
  expect(child.pid).not.toBe(process.pid);
});

dhtSuite({
  name: 'HyperDhtStore (12-node testnet in another process)',
  async create(limits) {
    let now = Date.now();
    const dht = new HyperDhtStore({ bootstrap, namespace: randomUUID(), limits, now: () => now });
    await dht.ready();
    return {
      dht,
      advance: async (ms) => {
        now += ms;
      },
    };
  },
});
