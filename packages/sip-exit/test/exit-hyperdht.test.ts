import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateIdentity } from '@crosstalk/gateway';
import { HyperDhtStore, startTestnet, type Testnet } from '@crosstalk/network-hyperdht';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN, startExit, USERS } from './support/exits.js';
import { freePort, installed, sipp } from './support/programs.js';

// The distributed directory: each exit has its own HyperDhtStore on a hyperdht testnet, exit B in a
// process of its own. A phone registered at B is found by A through the DHT; B restarted (same key,
// new process, empty memory) still reaches it through its own record in the DHT.
const REGISTER = join(import.meta.dirname, 'scenarios', 'register.xml');
const EXIT_PROCESS = fileURLToPath(new URL('./support/exit-process.ts', import.meta.url));

interface ExitProcess {
  child: ChildProcess;
  id: string;
  udpPort: number;
  stop(): Promise<void>;
}

async function spawnExit(
  bootstrap: unknown,
  namespace: string,
  keyFile: string,
  port: number,
): Promise<ExitProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@crosstalk/source',
      EXIT_PROCESS,
      JSON.stringify(bootstrap),
      namespace,
      keyFile,
      String(port),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout?.setEncoding('utf8');
  for await (const chunk of child.stdout as AsyncIterable<string>) {
    out += chunk;
    if (out.includes('\n')) break;
  }
  const { id, udpPort } = JSON.parse(out.slice(0, out.indexOf('\n'))) as { id: string; udpPort: number };
  return {
    child,
    id,
    udpPort,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.stdin?.end();
      await exited;
    },
  };
}

describe.skipIf(!installed('sipp'))('SIP exits on hyperdht, across processes', () => {
  let testnet: Testnet;
  let dir: string;
  const cleanup: (() => Promise<void> | void)[] = [];
  beforeAll(async () => {
    testnet = await startTestnet({ size: 12 });
    dir = await mkdtemp(join(tmpdir(), 'crosstalk-sip-exit-'));
  });
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });
  afterAll(async () => {
    await testnet?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds a phone registered at an exit in another process, before and after that exit restarts', async () => {
    const namespace = randomUUID();
    const identityB = generateIdentity();
    const keyFile = join(dir, 'exit-b.pem');
    await writeFile(keyFile, identityB.exportPrivateKey());
    const portB = await freePort();
    let exitB = await spawnExit(testnet.bootstrap, namespace, keyFile, portB);
    cleanup.push(() => exitB.stop());
    expect(exitB.id).toBe(identityB.id);
    expect(exitB.child.pid).not.toBe(process.pid);

    const dhtA = new HyperDhtStore({ bootstrap: testnet.bootstrap, namespace });
    await dhtA.ready();
    cleanup.push(() => dhtA.close());
    const exitA = await startExit(dhtA);
    cleanup.push(() => exitA.close());

    const uasPort = await freePort();
    const registered = await sipp([
      `127.0.0.1:${portB}`,
      '-sf',
      REGISTER,
      '-s',
      'service',
      '-au',
      'service',
      '-ap',
      USERS.service,
      '-set',
      'contact',
      `127.0.0.1:${uasPort}`,
      '-set',
      'expires',
      '300',
      '-p',
      String(await freePort()),
      '-m',
      '1',
      '-timeout',
      '20s',
    ]).done;
    expect(registered.code, registered.output).toBe(0);
    // Exit A (this process, its own DHT client) finds the registration B signed.
    const [found] = await exitA.lookup(`service@${DOMAIN}`);
    expect(found?.exit).toBe(identityB.id);
    expect(found?.exitContact.tcp).toBe(`127.0.0.1:${portB}`);

    const call = async (calls: number) => {
      const uas = sipp(['-sn', 'uas', '-p', String(uasPort), '-m', String(calls), '-timeout', '60s']);
      cleanup.push(() => uas.stop());
      const uac = await sipp([
        `127.0.0.1:${exitA.addresses.udpPort}`,
        '-sn',
        'uac',
        '-s',
        'service',
        '-p',
        String(await freePort()),
        '-r',
        '10',
        '-m',
        String(calls),
        '-timeout',
        '60s',
      ]).done;
      expect(uac.failed, uac.output).toBe(0);
      expect(uac.successful).toBe(calls);
      expect((await uas.done).successful).toBe(calls);
    };
    await call(10);

    // B restarts: a new process with the same key and ports, nothing in memory.
    await exitB.stop();
    exitB = await spawnExit(testnet.bootstrap, namespace, keyFile, portB);
    expect(exitB.id).toBe(identityB.id);
    await call(10);
  }, 120_000);
});
