import type { ClientConnection } from '@crosstalk/codec-msnp/testing';
import { addressKey, MemoryDht } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import * as drivers from '../src/drivers/index.js';
import { type MsnpUserDriver, msnpNetwork } from '../src/drivers/msnp.js';
import { startGateway, through } from './support/gateway.js';
import { peers, twoNetworks } from './support/networks.js';
import { expectOnlyVerified, sameNetworkSession, withAndWithoutGateway } from './support/same-network.js';
import {
  befriend,
  imBothWays,
  keysOf,
  offlineRequest,
  TEXT,
  TEXT_BACK,
  walkThrough,
} from './support/walkthrough.js';

// End to end over real sockets on 127.0.0.1 only: the MSN mock server (notification server and
// switchboard), the other network's server (whatever its driver starts), and real gateways whose
// SOCKS4 front is the only way a client reaches any server: the login, every switchboard XFR and
// RNG name, and the virtual switchboards a gateway rings its MSN users into
// (dial = socksConnect(gateway.socks, host, port)).

const DIALECTS = [12, 8] as const;

// ------------------------------------------------------------------ same network

/**
 * The byte streams of one connection at both ends, with only what the mock server randomises per
 * run replaced: Passport tickets and switchboard cookies (20 hex digits), switchboard session ids
 * (8 digits), contact GUIDs (MSNP10+ `C=`), and the server's own port in `XFR`/`RNG` (a new mock
 * listens on new ports). Nothing else differs between two runs of the same script.
 */
function normalised(bytes: Uint8Array[]): string {
  return Buffer.concat(bytes)
    .toString('utf8')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'GUID')
    .replace(/\b[0-9a-f]{20}\b/g, 'COOKIE')
    .replace(/\b127\.0\.0\.1:\d+\b/g, 'SERVER')
    .replace(/\b\d{8}\b/g, 'SESSID');
}

interface Connection {
  /** `passport notification|switchboard`. */
  who: string;
  /** What the client wrote / what the server received. */
  up: Uint8Array[];
  /** What the server wrote / what the client received. */
  down: Uint8Array[];
}

const byWho = (a: Connection, b: Connection) => a.who.localeCompare(b.who);

describe.each(DIALECTS)('MSNP%i: same-network traffic through a gateway is byte-identical', (dialect) => {
  /**
   * Two MSN users: log in, one adds the other, who accepts (and adds back), IMs both ways with
   * typing, then both log out. Returns both ends of every connection, taken once every reply was
   * seen and before the sign-off (whose socket closes race between the two users).
   */
  async function session(viaGateway: boolean) {
    const run = await sameNetworkSession(
      msnpNetwork({ dialect }),
      ['carol@hotmail.com', 'dan@example.org'],
      { viaGateway },
      async (carol, dan, { network }) => {
        // MSN carries no request text.
        await befriend(carol, dan, undefined, {});
        expect(await carol.nextPresence(dan.address, 'online')).toBe('online');
        expect(await dan.nextPresence(carol.address, 'online')).toBe('online');
        await carol.sendTyping(dan.address, 'composing');
        expect(await dan.nextTyping(carol.address)).toBe('composing');
        await imBothWays(carol, dan);
        expect(keysOf(carol.buddies())).toEqual(['dan@example.org@msn']);
        expect(keysOf(dan.buddies())).toEqual(['carol@hotmail.com@msn']);
        const server: Connection[] = network.mock.connections.map((c) => ({
          who: `${c.user} ${c.kind}`,
          up: [...c.received],
          down: [...c.sent],
        }));
        const client: Connection[] = [carol, dan].flatMap((d) =>
          connectionsOf(d).map((c) => ({
            who: `${d.address.user} ${new TextDecoder().decode(c.written[0]).startsWith('VER') ? 'notification' : 'switchboard'}`,
            up: [...c.written],
            down: [...c.received],
          })),
        );
        await carol.logout();
        await dan.logout();
        return { server: server.sort(byWho), client: client.sort(byWho) };
      },
    );
    const { verified, intercepted } = run;
    return { ...run.result, verified, intercepted };
  }

  const connectionsOf = (d: MsnpUserDriver): ClientConnection[] => d.clients.flatMap((c) => c.opened);

  const runs = withAndWithoutGateway(session);

  it('the gateway verified every connection with the msnp codec and intercepted nothing', () => {
    // Each user: the notification connection and one switchboard (carol called, dan was rung).
    expectOnlyVerified(runs.proxied, [
      'msnp:carol@hotmail.com@msn',
      'msnp:carol@hotmail.com@msn',
      'msnp:dan@example.org@msn',
      'msnp:dan@example.org@msn',
    ]);
  });

  it('every byte each client wrote reached the server, and every byte the server wrote reached the client', () => {
    expect(runs.proxied.client.map((c) => c.who)).toEqual([
      'carol@hotmail.com notification',
      'carol@hotmail.com switchboard',
      'dan@example.org notification',
      'dan@example.org switchboard',
    ]);
    expect(runs.proxied.server.map((c) => c.who)).toEqual(runs.proxied.client.map((c) => c.who));
    runs.proxied.client.forEach((client, i) => {
      const server = runs.proxied.server[i]!;
      expect(Buffer.concat(server.up).equals(Buffer.concat(client.up))).toBe(true);
      expect(Buffer.concat(client.down).equals(Buffer.concat(server.down))).toBe(true);
    });
  });

  it('the session through the gateway is the session without it (what the mock randomises aside)', () => {
    expect(runs.plain.client.map((c) => c.who)).toEqual(runs.proxied.client.map((c) => c.who));
    runs.plain.client.forEach((client, i) => {
      const via = runs.proxied.client[i]!;
      expect(normalised(via.up)).toBe(normalised(client.up));
      expect(normalised(via.down)).toBe(normalised(client.down));
    });
    runs.plain.server.forEach((server, i) => {
      const via = runs.proxied.server[i]!;
      expect(normalised(via.up)).toBe(normalised(server.up));
      expect(normalised(via.down)).toBe(normalised(server.down));
    });
  });
});

// ------------------------------------------------------------------ a server in another process

describe('connectMsnpUser: users of a mock server the driver did not start', () => {
  it('logs in with a Passport ticket fetched over the wire, keeps no client history, and hands IMs to onIm', async () => {
    const network = await msnpNetwork()([
      { name: 'erin@hotmail.com', password: 'erinpw' },
      { name: 'finn@example.org', password: 'finnpw' },
    ]);
    const g = await startGateway(new MemoryDht());
    const server = { host: network.server.host, port: network.server.port, network: 'msn' };
    const erin = drivers.connectMsnpUser(
      server,
      { name: 'erin@hotmail.com', password: 'erinpw' },
      through(g),
    );
    const finn = drivers.connectMsnpUser(
      server,
      { name: 'finn@example.org', password: 'finnpw' },
      through(g),
    );
    try {
      await erin.login();
      await finn.login();
      await befriend(erin, finn, undefined, {});
      const got: string[] = [];
      const arrived = new Promise<void>((resolve) => {
        finn.onIm((from, text) => {
          got.push(`${addressKey(from)}: ${text}`);
          if (got.length === 2) resolve();
        });
      });
      await erin.sendIm(finn.address, TEXT);
      await erin.sendIm(finn.address, TEXT_BACK);
      await arrived;
      expect(got).toEqual([`erin@hotmail.com@msn: ${TEXT}`, `erin@hotmail.com@msn: ${TEXT_BACK}`]);
      expect((erin as MsnpUserDriver).clients).toEqual([]);
      expect(network.mock.connections.map((c) => c.kind).sort()).toEqual([
        'notification',
        'notification',
        'switchboard',
        'switchboard',
      ]);
      await erin.logout();
      await finn.logout();
    } finally {
      await erin.disconnect();
      await finn.disconnect();
      await g.close();
      await network.stop();
    }
  });
});

// ------------------------------------------------------------------ the walk-through

// The walk-through between MSN (MSNP12, as startMsnpNetwork speaks it) and every other network,
// both ways, online and offline, is in e2e-matrix.test.ts. Here the MSN users speak MSNP8, the
// oldest dialect the scripted client logs in with, against every other network (or
// `CROSSTALK_E2E_PEER`'s).

describe.each(peers(['ymsg', 'oscar', 'xmpp']))(
  "MSNP8 and $protocol: the paper's walk-through (Section 3.2), two gateways, one DHT",
  ({ start }) => {
    // MSN passports on domains that look like XMPP servers to a gateway bridging XMPP.
    const [msn, other] = twoNetworks(
      {
        start: msnpNetwork({ dialect: 8 }),
        names: ['carol@hotmail.com', 'cora@hotmail.com', 'cleo@example.org', 'cy@example.org'],
      },
      { start, names: ['yuki', 'yves', 'yann', 'yara'] },
    );

    it('msn -> other: request, acceptance, IMs, typing, presence, lists after logging in again', async () => {
      await walkThrough(msn.party(0), other.party(0));
    });

    it('other -> msn: request, acceptance, IMs, typing, presence, lists after logging in again', async () => {
      await walkThrough(other.party(1), msn.party(1));
    });

    it('msn -> other, other offline: the request waits in the DHT until the login', async () => {
      await offlineRequest(msn.party(2), other.party(2));
    });

    it('other -> msn, msn offline: the request waits in the DHT until the login', async () => {
      await offlineRequest(other.party(3), msn.party(3));
    });
  },
);
