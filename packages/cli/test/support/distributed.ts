import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { eventFromJson, parseAddress } from '@crosstalk/core';
import {
  Directory,
  type GatewayConfigInput,
  type GatewayEvent,
  type GatewayIdentity,
  generateIdentity,
  identityKeyPair,
} from '@crosstalk/gateway';
import { HyperDhtStore, HyperDhtTransport, type NodeAddress } from '@crosstalk/network-hyperdht';
import { LineSplitter } from '../../src/io.js';
import type { GatewayView } from './gateway.js';

/**
 * Distributed mode with real processes: a hyperdht network in a process of its own
 * (testnet-process.ts) and gateways each in its own process, started through the CLI
 * (`crosstalk gateway --dht hyperdht --bootstrap ...`, run from source). The test process sees a
 * gateway through what it prints (its banner, and with `--log-level debug` one JSON log line per
 * gateway event) and reads the directory through a DHT node of its own, as any gateway would.
 */
const RUN_FROM_SOURCE = ['--import', 'tsx', '--conditions=@crosstalk/source'];
const testnetScript = fileURLToPath(new URL('./testnet-process.ts', import.meta.url));
const cliBin = fileURLToPath(new URL('../../src/bin.ts', import.meta.url));

/** E2E_DEBUG=1: every child's output goes to this process's stderr, prefixed with its name. */
const debug = (name: string, line: string) => {
  if (process.env.E2E_DEBUG) process.stderr.write(`${name} ${line.slice(0, 600)}\n`);
};

// ------------------------------------------------------------------ the DHT nodes

export interface TestnetProcess {
  /** Every node's address, by index (a stopped node keeps its index and port). */
  readonly nodes: readonly NodeAddress[];
  /** Nodes to name in `--bootstrap`. */
  readonly bootstrap: readonly NodeAddress[];
  /** Stops the nodes at these indices. */
  stop(indices: readonly number[]): Promise<void>;
  /** Starts them again on their ports. */
  start(indices: readonly number[]): Promise<void>;
  close(): Promise<void>;
}

export async function startTestnetProcess(size: number, bootstrapCount = 3): Promise<TestnetProcess> {
  const child = spawn(process.execPath, [...RUN_FROM_SOURCE, testnetScript, String(size)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  }) as ChildProcessByStdio<Writable, Readable, Readable>;
  const exited = once(child, 'exit');
  const replies: ((line: Record<string, unknown>) => void)[] = [];
  const lines = new LineSplitter();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    debug('dht', d.toString());
  });
  child.stdout.on('data', (d: Buffer) => {
    for (const line of lines.push(d.toString())) replies.shift()?.(JSON.parse(line));
  });
  const reply = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      replies.push(resolve);
      void exited.then(([code]) => reject(new Error(`the testnet process exited (${code}): ${stderr}`)));
    });
  const { nodes } = (await reply()) as { nodes: NodeAddress[] };
  const command = async (line: object) => {
    const answered = reply();
    child.stdin.write(`${JSON.stringify(line)}\n`);
    await answered;
  };
  return {
    nodes,
    bootstrap: nodes.slice(0, bootstrapCount),
    stop: (indices) => command({ stop: indices }),
    start: (indices) => command({ start: indices }),
    async close() {
      if (child.exitCode !== null) return;
      child.stdin.end();
      await exited;
    },
  };
}

export const hostPorts = (nodes: readonly NodeAddress[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');

// ------------------------------------------------------------------ the directory, as the test reads it

export interface DirectoryReader {
  readonly directory: Directory;
  /** Whether gateway `id` can be dialled by its key now (its listener is announced on the DHT). */
  reachable(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A directory reader on a DHT node of the test's own (its key signs nothing anyone reads). */
export async function directoryReader(bootstrap: readonly NodeAddress[]): Promise<DirectoryReader> {
  const store = new HyperDhtStore({ bootstrap: [...bootstrap] });
  await store.ready();
  const identity = generateIdentity();
  const probe = new HyperDhtTransport({ node: store.node, keyPair: identityKeyPair(identity) });
  return {
    directory: new Directory({ dht: store, identity }),
    async reachable(id) {
      try {
        (await probe.connect(id, { transport: 'hyperdht' })).destroy();
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await probe.close();
      await store.close();
    },
  };
}

// ------------------------------------------------------------------ gateways

export interface GatewayProcess extends GatewayView {
  readonly name: string;
  readonly pid: number;
  /** Its own DHT node (UDP), which its G2G links use too. */
  readonly dhtNode: NodeAddress;
  /** Every line it wrote to stderr so far (pino JSON). */
  readonly log: readonly string[];
  /** Where it serves `/metrics`, when its config names an address (`metrics`). */
  readonly metrics?: NodeAddress;
  /** The first log line from now on whose JSON matches; rejects naming `what` after `timeoutMs`. */
  nextLog(match: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM (a graceful stop): resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: resolves once the process is gone. */
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
}

export interface GatewayProcessOptions {
  name: string;
  bootstrap: readonly NodeAddress[];
  /** Read by the test (`directory`); any reader on the same DHT. */
  reader: DirectoryReader;
  stateFile: string;
  /** Written to `<stateFile>.config.json` and passed with `--config`. */
  config?: GatewayConfigInput;
  /** `--soft-ttl`, ms. */
  softTtl?: number;
}

/** Writes a state file holding only `identity`, so the gateway's id is known before it starts. */
export async function seedStateFile(file: string, identity: GatewayIdentity): Promise<void> {
  const state = { version: 1, identity: identity.exportPrivateKey(), users: {}, pending: [], delivered: [] };
  await writeFile(file, JSON.stringify(state));
}

/** A gateway as JSON in its log (`gateway event` lines) -> the `GatewayEvent` it reported. */
function gatewayEventFromJson(json: Record<string, unknown>): GatewayEvent {
  switch (json.type) {
    case 'verified':
    case 'offline':
      return { ...json, user: parseAddress(String(json.user)) } as GatewayEvent;
    case 'translated':
    case 'delivered':
    case 'undeliverable':
    case 'pending-held':
      return { ...json, event: eventFromJson(json.event) } as GatewayEvent;
    default:
      return json as unknown as GatewayEvent;
  }
}

/** Starts `crosstalk gateway` in a process of its own; resolves once it printed its banner. */
export async function startGatewayProcess(o: GatewayProcessOptions): Promise<GatewayProcess> {
  const args = [
    ...RUN_FROM_SOURCE,
    cliBin,
    'gateway',
    // One gateway per process, as these tests see it (a host of several is e2e-workers.test.ts).
    '--workers',
    '1',
    '--dht',
    'hyperdht',
    '--bootstrap',
    hostPorts(o.bootstrap),
    '--socks',
    '127.0.0.1:0',
    '--state',
    o.stateFile,
    '--log-level',
    'debug',
  ];
  if (o.config) {
    const file = `${o.stateFile}.config.json`;
    await writeFile(file, JSON.stringify(o.config));
    args.push('--config', file);
  }
  if (o.softTtl) args.push('--soft-ttl', String(o.softTtl));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const listeners = new Set<(e: GatewayEvent) => void>();
  const logWaiters = new Set<(line: Record<string, unknown>) => void>();
  const log: string[] = [];
  let out = '';
  const errLines = new LineSplitter();
  child.stderr.on('data', (d: Buffer) => {
    for (const line of errLines.push(d.toString())) {
      log.push(line);
      debug(o.name, line);
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(line);
      } catch {
        continue;
      }
      for (const w of [...logWaiters]) w(json);
      if (json.msg === 'gateway event' && json.gatewayEvent) {
        const event = gatewayEventFromJson(json.gatewayEvent as Record<string, unknown>);
        for (const l of [...listeners]) l(event);
      }
    }
  });
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const banner = await new Promise<string>((resolve, reject) => {
    const check = () => {
      if (/Stop with Ctrl-C/.test(out)) resolve(out);
    };
    child.stdout.on('data', check);
    void exited.then((code) =>
      reject(new Error(`${o.name} exited (${code}) before it started: ${out}\n${log.slice(-20).join('\n')}`)),
    );
  });
  const field = (label: string) => {
    const match = new RegExp(`^  ${label}\\s+(\\S+)`, 'm').exec(banner);
    if (!match) throw new Error(`no "${label}" in the banner of ${o.name}: ${banner}`);
    return match[1]!;
  };
  const socks = parseHostPort(field('SOCKS4 proxy'));
  const dhtNode = parseHostPort(field('DHT node'));
  const metrics = /^ {2}metrics\s+http:\/\/(\S+)\/metrics/m.exec(banner)?.[1];
  return {
    ...(metrics ? { metrics: parseHostPort(metrics) } : {}),
    name: o.name,
    pid: child.pid!,
    id: field('gateway id'),
    socks,
    dhtNode,
    directory: o.reader.directory,
    log,
    exited,
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    nextLog(match, what, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          logWaiters.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${o.name} to log ${what}`));
        }, timeoutMs);
        const waiter = (line: Record<string, unknown>) => {
          if (!match(line)) return;
          clearTimeout(timer);
          logWaiters.delete(waiter);
          resolve();
        };
        logWaiters.add(waiter);
      });
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

function parseHostPort(value: string): NodeAddress {
  const at = value.lastIndexOf(':');
  return { host: value.slice(0, at), port: Number(value.slice(at + 1)) };
}
