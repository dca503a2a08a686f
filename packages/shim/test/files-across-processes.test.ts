import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseAddress, WaitingInbox } from '@crosstalk/core';
import { HyperDhtStore, startTestnet, type Testnet } from '@crosstalk/network-hyperdht';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, FILE_DEFAULTS, fileSink, type ShimClient } from '../src/index.js';
import { Heard } from './support.js';

/**
 * getFile across processes (issue 18): Bob's client runs in a child process, Alice's in this one,
 * each a node of its own on a private hyperdht testnet on loopback (directory records in the DHT,
 * the file over a hyperdht stream between the two nodes). A 50 MB file is fetched, cancelled at
 * about half, and resumed into the same file on disk: the SHA-256 matches, and the sender sent no
 * byte twice beyond one chunk (it reports what it sent for each transfer).
 */

const SIZE = 50 * 1024 * 1024;
const script = fileURLToPath(new URL('./fixtures/client-process.ts', import.meta.url));

/** The child's JSON lines, awaited one matching line at a time. */
class ChildLines {
  readonly #lines = new WaitingInbox<Record<string, unknown>>();
  constructor(child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.#lines.push(JSON.parse(line) as Record<string, unknown>);
    });
  }
  async next(key: string, what: string, ms = 60_000): Promise<Record<string, unknown>> {
    const line = await this.#lines.take((l) => key in l || 'error' in l, { what, timeoutMs: ms });
    if ('error' in line && !(key in line)) throw new Error(`the child failed: ${JSON.stringify(line.error)}`);
    return line[key] as Record<string, unknown>;
  }
}

let testnet: Testnet;
let dir: string;
const children: ChildProcess[] = [];
const clients: ShimClient[] = [];
const stores: HyperDhtStore[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crosstalk-files-'));
  testnet = await startTestnet({ size: 10 });
}, 60_000);

afterAll(async () => {
  for (const alice of clients) await alice.close();
  for (const store of stores) await store.close();
  for (const child of children.filter((c) => c.exitCode === null)) {
    const exited = once(child, 'exit');
    child.stdin!.end();
    await exited;
  }
  await testnet?.destroy();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

// G2G over hyperdht (the file on the Noise stream: no host to dial a data channel to), and G2G
// over TCP with the directory on the same testnet (the file's bytes on the TLS-PSK data channel).
describe.each([
  { g2g: 'hyperdht' as const, channels: false, alice: 'alice@aol', bob: 'bob@yahoo' },
  // Other users: the first pair's records stay in the DHT for a while.
  { g2g: 'tcp' as const, channels: true, alice: 'carol@aol', bob: 'dave@yahoo' },
])(
  'files between two client processes on a hyperdht testnet (G2G over $g2g)',
  ({ g2g, channels, alice: aliceUser, bob: bobUser }) => {
    it('a 50 MB file, cancelled at about half and resumed: the SHA-256 matches, no byte sent twice beyond one chunk', async () => {
      const data = randomBytes(SIZE);
      const sha256 = createHash('sha256').update(data).digest('hex');
      const source = join(dir, `source-${g2g}.bin`);
      await writeFile(source, data);

      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--conditions=@crosstalk/source',
          script,
          JSON.stringify({
            user: bobUser,
            bootstrap: testnet.bootstrap,
            stateFile: join(dir, `bob-${g2g}.json`),
            g2g,
          }),
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      children.push(child);
      const bob = new ChildLines(child);
      const bobNode = await bob.next('ready', "bob's client to start");
      expect(child.pid).not.toBe(process.pid);

      let store: HyperDhtStore | undefined;
      if (g2g === 'tcp') {
        store = new HyperDhtStore({ bootstrap: testnet.bootstrap, host: '127.0.0.1' });
        stores.push(store);
        await store.ready();
      }
      const alice = await createClient({
        identity: { address: parseAddress(aliceUser) },
        network: 'aol',
        ...(store ? { dht: store } : { hyperdht: { bootstrap: testnet.bootstrap } }),
        stateFile: join(dir, `alice-${g2g}.json`),
      });
      clients.unshift(alice);
      const heard = new Heard(alice);

      child.stdin!.write(`${JSON.stringify({ offer: { to: aliceUser, path: source } })}\n`);
      await bob.next('offered', "bob's offer");
      const offer = await heard.next('file-offer', undefined, "bob's offer", 60_000);
      expect(offer).toMatchObject({ name: `source-${g2g}.bin`, size: SIZE, sha256 });

      // First attempt: cancelled once the sink holds about half.
      const target = join(dir, `received-${g2g}.bin`);
      const controller = new AbortController();
      const sink1 = await fileSink(target);
      await expect(
        alice.getFile(offer, sink1, {
          signal: controller.signal,
          onProgress: (received) => {
            if (received >= SIZE / 2) controller.abort();
          },
        }),
      ).rejects.toMatchObject({ code: 'ERR_TRANSFER_ABORTED' });
      await sink1.close();
      const held = (await stat(target)).size;
      expect(held).toBeGreaterThanOrEqual(SIZE / 2);
      expect(held).toBeLessThan(SIZE);
      const first = await bob.next('served', 'the first transfer reported');
      expect(first).toMatchObject({ offerId: offer.id, outcome: 'cancelled' });

      // Resumed from what the file holds.
      const sink2 = await fileSink(target);
      expect(sink2.offset).toBe(held);
      const result = await alice.getFile(offer, sink2);
      await sink2.close();
      expect(result).toEqual({ bytes: SIZE, sha256, resumedFrom: held });
      const second = await bob.next('served', 'the second transfer reported');
      expect(second).toMatchObject({ offerId: offer.id, outcome: 'completed' });

      // The file on disk is the file, and the sender sent it once (at most one chunk more).
      expect(
        createHash('sha256')
          .update(await readFile(target))
          .digest('hex'),
      ).toBe(sha256);
      const sent = (first.sent as number) + (second.sent as number);
      expect(sent).toBeGreaterThanOrEqual(SIZE);
      expect(sent).toBeLessThanOrEqual(SIZE + FILE_DEFAULTS.chunkSize);
      // Both transfers on the data channel when G2G is TCP, neither over hyperdht.
      expect([first.channels, second.channels]).toEqual(channels ? [1, 2] : [0, 0]);
      expect(typeof bobNode).toBe('string');
    }, 180_000);
  },
);
