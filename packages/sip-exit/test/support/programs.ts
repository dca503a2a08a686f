import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WaitingInbox } from '@crosstalk/core';
import { expect } from 'vitest';

/** True when a program is on the PATH. */
export function installed(program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A port free for both UDP and TCP on 127.0.0.1 (sipp and baresip need fixed ports). */
export async function freePort(): Promise<number> {
  for (;;) {
    const udp = createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    const port = udp.address().port;
    const tcp = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    udp.close();
    if (ok) {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      return port;
    }
  }
}

/** A finished sipp run: its exit code and the cumulative successful and failed call counts it printed. */
export interface SippResult {
  code: number | null;
  successful: number;
  failed: number;
  output: string;
}

/** A running sipp (UAS in the background, or a UAC the test awaits). */
export interface SippRun {
  done: Promise<SippResult>;
  stop(): void;
}

/** Starts sipp with `args` (always `-nostdin`, bound to 127.0.0.1); resolves when it exits. */
export function sipp(args: readonly string[]): SippRun {
  const child = spawn('sipp', [...args, '-nostdin', '-i', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
    if (output.length > 1_000_000) output = output.slice(-500_000);
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const done = once(child, 'exit').then(([code]) => {
    // The last screen's counters: "Successful call | periodic | cumulative".
    const count = (label: string) => {
      const lines = output.split('\n').filter((l) => l.includes(label));
      const last = lines.at(-1) ?? '';
      const numbers = last.match(/\d+/g) ?? [];
      return Number(numbers.at(-1) ?? 0);
    };
    return {
      code: code as number | null,
      successful: count('Successful call'),
      failed: count('Failed call'),
      output,
    };
  });
  return {
    done,
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}

/** A baresip event from ctrl_tcp (`REGISTER_OK`, `CALL_ESTABLISHED`, ...). */
export interface BaresipEvent {
  type: string;
  class?: string;
  accountaor?: string;
  direction?: string;
  peeruri?: string;
  id?: string;
  param?: string;
}

/** A running baresip, driven over ctrl_tcp (netstring JSON). */
export interface Baresip {
  /** Its SIP port. */
  readonly port: number;
  /** Every event so far. */
  readonly events: BaresipEvent[];
  /** Sends a command (`dial`, `hangup`, `accept`, ...); resolves with its response. */
  command(command: string, params?: string): Promise<{ ok: boolean; data: string }>;
  /** Resolves with the first event (past or future) that matches. */
  waitFor(match: (event: BaresipEvent) => boolean, timeout?: number): Promise<BaresipEvent>;
  /** Everything baresip printed. */
  output(): string;
  /** Resolves once baresip printed something matching (events before ctrl_tcp connects are only printed). */
  waitForOutput(pattern: RegExp, timeout?: number): Promise<void>;
  /** Stops baresip and removes its config. */
  stop(): Promise<void>;
}

/**
 * Starts baresip with a config of its own (PEERS.md "SIP"): loopback only, g711 with a sine source
 * and no sound card, ctrl_tcp on a free port, one account line.
 */
export async function startBaresip(account: string): Promise<Baresip> {
  // baresip also binds SIP over TLS on its port + 1; a port taken meanwhile means another try.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startBaresipOnce(account);
    } catch (error) {
      if (attempt >= 5 || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

async function startBaresipOnce(account: string): Promise<Baresip> {
  const dir = await mkdtemp(join(tmpdir(), 'crosstalk-baresip-'));
  const port = await freePort();
  const ctrlPort = await freePort();
  const config = [
    'poll_method epoll',
    `sip_listen 127.0.0.1:${port}`,
    'net_interface 127.0.0.1',
    'audio_player aufile,/dev/null',
    'audio_source ausine,440',
    'audio_alert aufile,/dev/null',
    'ausrc_srate 48000',
    'auplay_srate 48000',
    'ausrc_channels 2',
    'auplay_channels 2',
    'rtp_ports 30000-39999',
    'module_path /usr/lib/baresip/modules',
    'module g711.so',
    'module ausine.so',
    'module aufile.so',
    'module_app account.so',
    'module_app menu.so',
    'module_app ctrl_tcp.so',
    `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
  ].join('\n');
  await writeFile(join(dir, 'config'), `${config}\n`);
  await writeFile(join(dir, 'accounts'), `${account}\n`);
  const child: ChildProcess = spawn('baresip', ['-f', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = once(child, 'exit');
  const events = new WaitingInbox<BaresipEvent>({
    name: 'baresip',
    describe: (kept) => `got ${JSON.stringify(kept)}\n${output}`,
  });
  const responses: ((r: { ok: boolean; data: string }) => void)[] = [];

  // ctrl_tcp comes up a moment after start.
  let socket: Socket | undefined;
  for (let i = 0; i < 100 && !socket; i++) {
    if (child.exitCode !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`baresip exited: ${output}`);
    }
    socket = await new Promise<Socket | undefined>((resolve) => {
      const s = connect(ctrlPort, '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(undefined));
    });
    if (!socket) await new Promise((r) => setTimeout(r, 100));
  }
  if (!socket) throw new Error(`baresip's ctrl_tcp did not come up: ${output}`);
  const ctrl = socket;
  let buffer = Buffer.alloc(0);
  ctrl.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const colon = buffer.indexOf(':');
      if (colon < 0) break;
      const length = Number(buffer.subarray(0, colon).toString());
      if (buffer.length < colon + 1 + length + 1) break;
      const json = JSON.parse(buffer.subarray(colon + 1, colon + 1 + length).toString());
      buffer = buffer.subarray(colon + 1 + length + 1);
      if (json.event) {
        events.push(json);
      } else if (json.response) responses.shift()?.({ ok: json.ok, data: json.data ?? '' });
    }
  });
  ctrl.on('error', () => {});

  return {
    port,
    // The inbox's own array, kept in place: a live view.
    events: events.items as BaresipEvent[],
    command(command, params) {
      const body = JSON.stringify({ command, params: params ?? '', token: String(Date.now()) });
      return new Promise((resolve) => {
        responses.push(resolve);
        ctrl.write(`${Buffer.byteLength(body)}:${body},`);
      });
    },
    waitFor(match, timeout = 20_000) {
      return events.waitFor(match, { timeoutMs: timeout, what: 'matching baresip event' });
    },
    output: () => output,
    async waitForOutput(pattern, timeout = 20_000) {
      const deadline = Date.now() + timeout;
      while (!pattern.test(output)) {
        if (Date.now() > deadline) throw new Error(`baresip never printed ${pattern}:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      ctrl.destroy();
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The SIP messages tshark finds in a capture, in capture order: methods, or status and CSeq method. */
export function sipMessages(file: string): string[] {
  const fields = ['sip.Method', 'sip.Status-Code', 'sip.CSeq.method'].flatMap((f) => ['-e', f]);
  const out = execFileSync(
    'tshark',
    ['-r', file, '-Y', 'sip', '-T', 'fields', '-E', 'occurrence=f', ...fields],
    {
      encoding: 'utf8',
    },
  );
  return out
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => {
      const [method, status, cseqMethod] = l.split('\t');
      return method ? method : `${status} ${cseqMethod}`;
    });
}

/** Asserts that each of `order` is in `seen` and that their first occurrences come in that order. */
export function expectFirstInOrder(seen: string[], order: string[]): void {
  const firstOf = order.map((step) => seen.indexOf(step));
  expect(
    firstOf.every((i) => i >= 0),
    seen.join(', '),
  ).toBe(true);
  expect([...firstOf].sort((x, y) => x - y)).toEqual(firstOf);
}
