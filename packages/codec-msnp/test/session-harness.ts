import {
  type Address,
  concatBytes,
  defaultIsForeign,
  MemoryCookieTable,
  type ProxySession,
  type RosterItem,
  type SessionContext,
  type SessionEvent,
  type SessionOutput,
} from '@crosstalk/core';
import { msnp } from '../src/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Allocation {
  host: string;
  port: number;
  data: unknown;
}

export interface TestGateway {
  cookies: MemoryCookieTable;
  allocations: Allocation[];
  released: { host: string; port: number }[];
  roster: Map<string, RosterItem[]>;
  context(virtual?: { data: unknown }): SessionContext;
  open(virtual?: { data: unknown }): ProxySession;
}

/** A sans-IO stand-in for the gateway engine: one cookie table, endpoints and foreign rosters. */
export function testGateway(options: { isForeign?: (a: Address) => boolean } = {}): TestGateway {
  const cookies = new MemoryCookieTable();
  const allocations: Allocation[] = [];
  const released: { host: string; port: number }[] = [];
  const roster = new Map<string, RosterItem[]>();
  let ids = 0;
  let connections = 0;
  const context = (virtual?: { data: unknown }): SessionContext => ({
    connectionId: `t${++connections}`,
    target: { host: '127.0.0.1', port: 1863 },
    isForeign: options.isForeign ?? defaultIsForeign(['msn']),
    foreignRoster: (owner) => roster.get(owner.user.toLowerCase()) ?? [],
    cookies,
    endpoints: {
      allocate(_protocol, data) {
        const endpoint = { host: '127.77.1.1', port: 40_000 + allocations.length, data };
        allocations.push(endpoint);
        return { host: endpoint.host, port: endpoint.port };
      },
      release(host, port) {
        released.push({ host, port });
      },
    },
    ...(virtual ? { virtual } : {}),
    now: () => 1_700_000_000_000,
    newId: () => `id-${++ids}`,
  });
  return {
    cookies,
    allocations,
    released,
    roster,
    context,
    open: (virtual) => msnp().openSession(context(virtual)),
  };
}

export const bytes = (s: string) => enc.encode(s);
export const text = (parts: readonly Uint8Array[]) => dec.decode(concatBytes([...parts]));

/** Feeds `s` from one side and returns the output with both directions as text. */
export function feed(session: ProxySession, side: 'client' | 'server', s: string | Uint8Array) {
  const out: SessionOutput =
    side === 'client'
      ? session.fromClient(typeof s === 'string' ? bytes(s) : s)
      : session.fromServer(typeof s === 'string' ? bytes(s) : s);
  return { toServer: text(out.toServer), toClient: text(out.toClient), events: out.events, raw: out };
}

export function eventsOf<T extends SessionEvent['type']>(events: readonly SessionEvent[], type: T) {
  return events.filter((e): e is Extract<SessionEvent, { type: T }> => e.type === type);
}

export function msnAddress(passport: string): Address {
  return { user: passport, network: 'msn' };
}

/** Logs a notification session in with the MSNP8 lines of the Escargot transcript. */
export function loginMsnp8(session: ProxySession, passport: string, friendly: string): SessionEvent[] {
  const events: SessionEvent[] = [];
  const step = (side: 'client' | 'server', s: string) => events.push(...feed(session, side, s).events);
  step('client', 'VER 1 MSNP8 CVR0\r\n');
  step('server', 'VER 1 MSNP8\r\n');
  step('client', `CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.2.0205 MSMSGS ${passport}\r\n`);
  step(
    'server',
    'CVR 2 6.2.0205 6.2.0205 6.2.0205 https://escargot.log1p.xyz https://escargot.log1p.xyz\r\n',
  );
  step('client', `USR 3 TWN I ${passport}\r\n`);
  step('server', 'USR 3 TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1\r\n');
  step('client', 'USR 4 TWN S cb705355254541c86138\r\n');
  step('server', `USR 4 OK ${passport} ${friendly} 1 0\r\n`);
  return events;
}

/** Logs a notification session in with the MSNP12 lines of the Escargot transcript. */
export function loginMsnp12(session: ProxySession, passport: string): SessionEvent[] {
  const events: SessionEvent[] = [];
  const step = (side: 'client' | 'server', s: string) => events.push(...feed(session, side, s).events);
  step('client', 'VER 1 MSNP12 MSNP11 MSNP10 CVR0\r\n');
  step('server', 'VER 1 MSNP12\r\n');
  step('client', `USR 3 TWN I ${passport}\r\n`);
  step('server', 'USR 3 TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1\r\n');
  step('client', 'USR 4 TWN S 3739ec8b5c368828feee\r\n');
  step('server', `USR 4 OK ${passport} 1 0\r\n`);
  return events;
}

export function mimeText(body: string, format = true): string {
  return `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n${format ? 'X-MMS-IM-Format: FN=Arial; EF=B; CO=ff; CS=0; PF=22\r\n' : ''}\r\n${body}`;
}

export function msgLine(head: string, payload: string): string {
  return `${head} ${enc.encode(payload).length}\r\n${payload}`;
}
