import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningProsody, startProsody } from '@crosstalk/codec-xmpp/testing';
import { type G2gStream, type G2gTransport, MemoryDht, parseAddress } from '@crosstalk/core';
import { type Gateway, type GatewayEvent, type GatewayIdentity, TcpG2gTransport } from '@crosstalk/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkFixture, StartNetwork, UserDriver } from '../src/drivers/index.js';
import * as drivers from '../src/drivers/index.js';
import { ShimUser, trustFor } from './support/shim-user.js';
import {
  offlineRequest,
  type Party,
  startGateway,
  through,
  until,
  walkThrough,
} from './support/walkthrough.js';
import { xml, xmppJs } from './support/xmpp-js.js';

/**
 * Issue 18's shim for an encrypted base client, end to end: alice is a user of a prosody that
 * REQUIRES TLS (`c2s_require_encryption`), which no SOCKS gateway can read; she is on CrossTalk
 * through the shim (`createShim` over the XMPP base client, her node on the shared DHT). Users of
 * the legacy protocols (OSCAR, YMSG, MSNP) log in through SOCKS gateways to their mock servers. The
 * paper's walk-through both ways with each, and a request held for whoever is offline; and what
 * alice sends to another user of her own server goes through her TLS connection, unchanged,
 * without a byte of it on G2G.
 */

const LEGACY = [
  {
    protocol: 'oscar',
    start: 'startOscarNetwork',
    names: ['aimasker', 'aimanswer', 'aimoffask', 'aimoffans'],
  },
  { protocol: 'ymsg', start: 'startYmsgNetwork', names: ['yasker', 'yanswer', 'yoffask', 'yoffans'] },
  {
    protocol: 'msnp',
    start: 'startMsnpNetwork',
    names: ['masker@hotmail.com', 'manswer@example.org', 'moffask@hotmail.com', 'moffans@example.org'],
  },
] as const;
type Legacy = (typeof LEGACY)[number];
/** Shim accounts on the TLS prosody, one per (role, protocol): `asks-oscar`, `answers-oscar`, ... */
const ROLES = ['asks', 'answers', 'offasks', 'offanswers'] as const;

let dht: MemoryDht;
let prosody: RunningProsody;
let untrust: () => void;
let stateDir: string;
const fixtures = new Map<string, NetworkFixture>();
const gateways = new Map<string, Gateway>();
const used: UserDriver[] = [];

beforeAll(async () => {
  dht = new MemoryDht();
  stateDir = mkdtempSync(join(tmpdir(), 'crosstalk-e2e-shim-'));
  const shimAccounts = LEGACY.flatMap((n) => ROLES.map((r) => `${r}-${n.protocol}`));
  prosody = await startProsody({
    requireEncryption: true,
    users: [...shimAccounts, 'alice', 'dave'].map((user) => ({ user, password: `${user}-pw` })),
  });
  // The witness on alice's server (a plain @xmpp/client) trusts the test certificate; the shim is told it itself.
  untrust = trustFor(prosody.domain, prosody.certificate);
  for (const n of LEGACY) {
    const start = (drivers as unknown as Record<string, StartNetwork>)[n.start]!;
    fixtures.set(n.protocol, await start(n.names.map((name) => ({ name, password: `${name}-pw` }))));
    gateways.set(n.protocol, await startGateway(dht));
  }
}, 120_000);

afterAll(async () => {
  for (const d of used.splice(0)) await d.disconnect().catch(() => {});
  for (const g of gateways.values()) await g.close();
  for (const f of fixtures.values()) await f.stop();
  untrust?.();
  await prosody?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

function shimParty(
  account: string,
  extra: { transport?: (id: GatewayIdentity) => G2gTransport } = {},
): Party & { user: ShimUser } {
  const user = new ShimUser({
    prosody,
    user: account,
    password: `${account}-pw`,
    dht,
    stateFile: join(stateDir, `${account}.json`),
    // Any node reads the shared directory; the shim's own may be offline when a step looks.
    directory: [...gateways.values()][0]!.directory,
    ...extra,
  });
  used.push(user);
  return { user, gateway: user.view, protocol: 'xmpp' };
}

function legacyParty(net: Legacy, index: number): Party {
  const gateway = gateways.get(net.protocol)!;
  const user = fixtures.get(net.protocol)!.driver(net.names[index]!, through(gateway));
  used.push(user);
  return { user, gateway, protocol: net.protocol };
}

describe.each(LEGACY.map((n) => ({ n, name: n.protocol })))(
  'the shim user (XMPP over TLS) and $name',
  ({ n }) => {
    it('walk-through, the shim user asking: request, acceptance, IMs, typing, presence, lists after logging back in', async () => {
      await walkThrough(shimParty(`asks-${n.protocol}`), legacyParty(n, 1));
    }, 90_000);

    it(`walk-through, the ${n.protocol} user asking`, async () => {
      await walkThrough(legacyParty(n, 0), shimParty(`answers-${n.protocol}`));
    }, 90_000);

    it('a request from the shim user to an offline user waits in the DHT and is accepted at their login', async () => {
      await offlineRequest(shimParty(`offasks-${n.protocol}`), legacyParty(n, 3));
    }, 90_000);

    it('a request to the shim user while offline waits in the DHT and reaches the shim when it starts', async () => {
      await offlineRequest(legacyParty(n, 2), shimParty(`offanswers-${n.protocol}`));
    }, 90_000);
  },
);

/** A transport that records every byte its node writes on a G2G stream (before encryption). */
function recording(into: Buffer[]) {
  const tap = (stream: G2gStream): G2gStream => {
    const write = stream.write.bind(stream);
    stream.write = (data: Uint8Array) => {
      into.push(Buffer.from(data));
      return write(data);
    };
    return stream;
  };
  return (identity: GatewayIdentity): G2gTransport => {
    const inner = new TcpG2gTransport({ identity, host: '127.0.0.1', port: 0 });
    return {
      get name() {
        return inner.name;
      },
      get localId() {
        return inner.localId;
      },
      listen: (options) =>
        inner.listen({ ...options, onConnection: (stream, id) => options.onConnection(tap(stream), id) }),
      connect: async (peer, contact) => tap(await inner.connect(peer, contact)),
      boundAddress: () => inner.boundAddress(),
      close: () => inner.close(),
    };
  };
}

describe('alice and another user of her own TLS-only server', () => {
  it('her IMs reach dave through prosody over her TLS connection, unchanged, and nothing of them crosses G2G', async () => {
    const written: Buffer[] = [];
    const alice = shimParty('alice', { transport: recording(written) });
    const nodeEvents: GatewayEvent[] = [];
    alice.gateway.on((e) => nodeEvents.push(e));
    await alice.user.login();
    const dave = xmppJs(prosody.port, 'dave', 'dave-pw');
    used.push({ disconnect: () => dave.entity.stop() } as UserDriver);
    await dave.entity.start();
    await dave.entity.send(xml('presence', {}));
    expect(dave.entity.socket?.secure).toBe(true);

    // Her node is on G2G all along: a yahoo user is a buddy, so the tap sees what G2G carries.
    const yahoo = legacyParty(LEGACY[1], 0);
    await yahoo.user.login();
    await alice.user.shim.sendIM(yahoo.user.address, 'over G2G: 🌍');
    expect(await yahoo.user.nextIm(alice.user.address)).toBe('over G2G: 🌍');
    await until(() => written.some((b) => b.includes('over G2G: 🌍')), 'the foreign IM on the G2G tap');

    const secret = 'Für Dave — nur über TLS ✓ 秘密';
    const sent = await alice.user.shim.sendIM(parseAddress('dave@localhost'), secret);
    const got = await dave.receive(
      (el) => el.name === 'message' && el.attrs.from?.startsWith('alice@localhost/') === true,
      "alice's IM",
    );
    expect(got.getChildText('body')).toBe(secret);
    expect(got.attrs.id).toBe(sent.id);
    expect(got.attrs.type).toBe('chat');
    expect(alice.user.shim.base).toMatchObject({ tls: { protocol: expect.stringMatching(/^TLSv1\.[23]$/) } });

    // dave answers through prosody: the shim hears it from its base client.
    const answer = 'Danke, Alice! ありがとう';
    await dave.entity.send(
      xml('message', { to: 'alice@localhost', type: 'chat', id: 'd-1' }, xml('body', {}, answer)),
    );
    expect(await alice.user.nextIm(parseAddress('dave@localhost'))).toBe(answer);

    // Neither crossed G2G, and the node never saw them.
    const g2g = Buffer.concat(written);
    for (const text of [secret, answer]) expect(g2g.includes(Buffer.from(text))).toBe(false);
    const mentions = (e: GatewayEvent) => JSON.stringify(e).includes('dave@localhost');
    expect(nodeEvents.filter(mentions)).toEqual([]);
    await yahoo.user.logout();
    await alice.user.logout();
  }, 60_000);
});
