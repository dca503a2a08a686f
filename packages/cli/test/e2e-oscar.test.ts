import { createFlapFramer, decodeFlap, type FlapFrame, frameToJson } from '@crosstalk/codec-oscar';
import { addressKey } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { startOscarNetwork } from '../src/drivers/oscar.js';
import { peers, twoNetworks } from './support/networks.js';
import {
  expectOnlyVerified,
  imTypingAway,
  sameNetworkSession,
  withAndWithoutGateway,
} from './support/same-network.js';
import { keysOf, walkThrough } from './support/walkthrough.js';

// End to end over real sockets on 127.0.0.1 only: the mock OSCAR server, the other network's
// server (whatever its driver starts) and real gateways, whose SOCKS4 front is the only way a
// client reaches its server (dial = socksConnect(gateway.socks, host, port)) for both the auth and
// the BOS connection. The walk-through steps are the shared ones (support/walkthrough.ts).

// ------------------------------------------------------------------ same network

/**
 * Frames as JSON with what differs between two runs replaced, and only that: the login cookie the
 * server draws at random (login reply TLV 6, presented again in the BOS sign-on), its random BUCP
 * challenge and so the client's hash of the password with it (TLV 0x25), the BOS address in the
 * login reply (TLV 5: each run's mock server listens on a port the OS picked), and the server's
 * clock (sign-on time, user info TLV 3; the feedbag's last-update time).
 */
function normalised(frames: readonly FlapFrame[]): unknown[] {
  type Tlv = { type: number; value: unknown };
  const blank = (tlvs: Tlv[], types: number[]) =>
    tlvs.map((t) => (types.includes(t.type) ? { type: t.type, value: 'VARIES' } : t));
  return frames.map((frame) => {
    // biome-ignore lint/suspicious/noExplicitAny: a JSON tree walked by hand
    const json = frameToJson(frame) as any;
    const p = json.payload;
    if (p.type === 'signon') p.tlvs = blank(p.tlvs, [6]);
    if (p.type !== 'snac') return json;
    const b = p.body;
    if (p.family === 0x17 && b.type === 'tlvs') b.tlvs = blank(b.tlvs, [5, 6, 0x25]);
    if (b.type === 'bucp-challenge') b.key = 'VARIES';
    if (b.type === 'feedbag-reply') b.lastUpdate = 'VARIES';
    if (b.type === 'user-info') for (const u of b.users) u.tlvs = blank(u.tlvs, [3]);
    if (b.type === 'icbm-to-client') b.sender.tlvs = blank(b.sender.tlvs, [3]);
    return json;
  });
}

function framesOf(chunks: Buffer[]): FlapFrame[] {
  const framer = createFlapFramer();
  const frames = framer.push(Buffer.concat(chunks)).map((raw) => decodeFlap(raw));
  expect(framer.buffered).toBe(0);
  return frames;
}

describe('oscar: same-network traffic through a gateway is byte-identical', () => {
  /** Login, add buddy, accept, IM both ways, typing, away, log out; what both ends of each connection saw. */
  async function session(viaGateway: boolean) {
    const run = await sameNetworkSession(
      startOscarNetwork,
      ['alice', 'bobby'],
      { viaGateway },
      async (alice, bobby, { network }) => {
        await alice.addBuddy(bobby.address, 'may I add you?');
        // The request, then "you were added" (0x13/0x1C, also a request in canonical form).
        expect(await bobby.nextBuddyRequest(alice.address)).toEqual({ message: 'may I add you?' });
        expect(await bobby.nextBuddyRequest(alice.address)).toEqual({});
        await bobby.answerBuddyRequest(alice.address, true);
        expect(await alice.nextBuddyResponse(bobby.address)).toEqual({ accepted: true });
        expect(await alice.nextBuddyRequest(bobby.address)).toEqual({}); // bobby listed alice back
        await imTypingAway(alice, bobby);
        expect(keysOf(alice.buddies())).toEqual(['bobby@aol']);
        expect(keysOf(bobby.buddies())).toEqual(['alice@aol']);
        await alice.logout();
        await bobby.logout();
        return network.mock.connections.map((c) => [...c.socket.received]);
      },
    );
    const { clientSide, result: serverSide, verified, intercepted } = run;
    return { clientSide, serverSide, verified, intercepted };
  }

  const runs = withAndWithoutGateway(session);

  it('the gateway proxied both logins with the oscar codec and intercepted nothing', () => {
    expectOnlyVerified(runs.proxied, ['oscar:alice@aol', 'oscar:bobby@aol']);
  });

  it('auth and BOS both went through the gateway: four connections, in the same order as without it', () => {
    expect(runs.plain.clientSide).toHaveLength(4);
    expect(runs.proxied.clientSide).toHaveLength(4);
    expect(runs.proxied.serverSide).toHaveLength(4);
  });

  it('the server received the same frames, and the clients the same frames, with and without the gateway', () => {
    runs.plain.serverSide.forEach((frames, i) => {
      expect(normalised(runs.proxied.serverSide[i]!)).toEqual(normalised(frames));
    });
    runs.plain.clientSide.forEach((client, i) => {
      expect(normalised(framesOf(runs.proxied.clientSide[i]!.received))).toEqual(
        normalised(framesOf(client.received)),
      );
    });
  });
});

// ------------------------------------------------------------------ the walk-through

// The walk-through between OSCAR and every other network, both ways, online and offline, is in
// e2e-matrix.test.ts (an AIM user each time); here it runs with an ICQ user, paired with YMSG
// (or `CROSSTALK_E2E_PEER`).

describe.each(peers(['ymsg']))(
  "icq and $protocol: the paper's walk-through (Section 3.2)",
  ({ protocol, start }) => {
    // An ICQ user (a UIN): its status goes out as ICQ status 0x01/0x1E, not an away message.
    const [icq, other] = twoNetworks(
      { start: startOscarNetwork, names: ['7654321'] },
      { start, names: ['yolanda'] },
    );

    it(`icq -> ${protocol}: the walk-through with an ICQ user`, async () => {
      const asker = icq.party(0);
      expect(addressKey(asker.user.address)).toBe('7654321@icq');
      await walkThrough(asker, other.party(0));
    });
  },
);
