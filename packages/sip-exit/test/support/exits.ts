import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { type Dht, WaitingInbox } from '@crosstalk/core';
import { type GatewayIdentity, generateIdentity } from '@crosstalk/gateway';
import { createSipExit, type SipExit, type SipExitEvent, type SipExitOptions } from '../../src/index.js';

/** The credentials the tests' exits accept. */
export const USERS = { alice: 'alice-pw', bob: 'bob-pw', service: 'service-pw', carol: 'carol-pw' } as const;

/** The domain the tests' exits serve. */
export const DOMAIN = 'sip.crosstalk.test';

/** A SIP exit with the events it reported. */
export interface TestExit extends SipExit {
  readonly events: SipExitEvent[];
  readonly identity: GatewayIdentity;
  /** Resolves with the first event (past or future) that matches. */
  waitFor(match: (event: SipExitEvent) => boolean, timeout?: number): Promise<SipExitEvent>;
}

/** Starts an exit on 127.0.0.1 with free ports (or the ones given) and the test credentials. */
export async function startExit(
  dht: Dht,
  options: Partial<SipExitOptions> & { identity?: GatewayIdentity } = {},
): Promise<TestExit> {
  const events = new WaitingInbox<SipExitEvent>({ name: 'exit', timeoutMs: 20_000 });
  const identity = options.identity ?? generateIdentity();
  const exit = await createSipExit({
    dht,
    identity,
    domain: DOMAIN,
    host: '127.0.0.1',
    udpPort: 0,
    tcpPort: 0,
    users: USERS,
    allowTarget: (d) => d.host === '127.0.0.1',
    ...options,
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
  });
  return Object.assign(exit, {
    // The inbox's own array, kept in place: a live view.
    events: events.items as SipExitEvent[],
    identity,
    waitFor(match: (e: SipExitEvent) => boolean, timeout = 20_000) {
      return events.waitFor(match, { timeoutMs: timeout, what: 'matching exit event' });
    },
  });
}

/**
 * Sends one request over UDP from a socket of its own and collects what comes back until a final
 * response (or `timeout` ms of silence): a raw client for the cases sipp's scenarios do not script.
 */
export async function udpRequest(
  port: number,
  build: (local: number) => string | Uint8Array,
  timeout = 5000,
): Promise<string[]> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const local = socket.address().port;
  const received: string[] = [];
  const finished = new Promise<void>((resolve) => {
    let timer = setTimeout(resolve, timeout);
    socket.on('message', (bytes) => {
      const text = bytes.toString('utf8');
      received.push(text);
      const status = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1] ?? 0);
      clearTimeout(timer);
      if (status >= 200) resolve();
      else timer = setTimeout(resolve, timeout);
    });
  });
  const message = build(local);
  socket.send(typeof message === 'string' ? Buffer.from(message) : message, port, '127.0.0.1');
  await finished;
  socket.close();
  return received;
}

/** A minimal INVITE from a raw client at `local` to `uri` (no SDP). */
export function invite(uri: string, local: number, extra: Record<string, string> = {}): string {
  const branch = `z9hG4bK${Math.random().toString(36).slice(2)}`;
  const headers = {
    Via: `SIP/2.0/UDP 127.0.0.1:${local};branch=${branch};rport`,
    'Max-Forwards': '70',
    From: `<sip:tester@127.0.0.1:${local}>;tag=${Math.random().toString(36).slice(2)}`,
    To: `<${uri}>`,
    'Call-ID': `${Math.random().toString(36).slice(2)}@127.0.0.1`,
    CSeq: '1 INVITE',
    Contact: `<sip:tester@127.0.0.1:${local}>`,
    'Content-Length': '0',
    ...extra,
  };
  return `INVITE ${uri} SIP/2.0\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`;
}

/** The status codes of the responses collected. */
export function statuses(responses: readonly string[]): number[] {
  return responses.map((r) => Number(/^SIP\/2\.0 (\d{3})/.exec(r)?.[1] ?? 0));
}
