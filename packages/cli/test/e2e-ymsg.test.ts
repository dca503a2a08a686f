import { createYmsgFramer, decodePacket, packetToJson } from '@crosstalk/codec-ymsg';
import { describe, expect, it } from 'vitest';
import { startYmsgNetwork } from '../src/drivers/ymsg.js';
import {
  expectBytesRelayed,
  expectOnlyVerified,
  imTypingAway,
  sameNetworkSession,
  withAndWithoutGateway,
} from './support/same-network.js';
import { befriend, keysOf } from './support/walkthrough.js';

// End to end over real sockets on 127.0.0.1 only: the YMSG mock server and a real gateway whose
// SOCKS4 front is the only way a client reaches its server (dial = socksConnect(gateway.socks,
// host, port)). The paper's walk-through between YMSG and every other network, both ways, online
// and offline, is in e2e-matrix.test.ts.

/**
 * A byte stream as YMSG packets in JSON, with what the mock server randomises per run replaced,
 * and only that: the session id it assigns (every header after AUTH, and inside the cookies of key
 * 59 and the presence records' key 11), its login challenge (key 94) and so the client's answers to
 * it (keys 6 and 96), and the server's clock (key 15, message and contact timestamps).
 */
function packets(stream: Buffer[]): unknown[] {
  const framer = createYmsgFramer();
  const out = framer.push(Buffer.concat(stream)).map((frame) => {
    const json = packetToJson(decodePacket(frame)) as { sessionId: number; pairs: [number, unknown][] };
    return {
      ...json,
      sessionId: json.sessionId === 0 ? 0 : 'SESSION',
      pairs: json.pairs.map(([k, v]) => [k, [6, 11, 15, 59, 94, 96].includes(k) ? 'RANDOM' : v]),
    };
  });
  expect(framer.buffered).toBe(0);
  return out;
}

// ------------------------------------------------------------------ same network

describe('ymsg: same-network traffic through a gateway is byte-identical', () => {
  /** Login, add buddy, accept, IM both ways, typing, away, log out: what each end of each connection saw. */
  const session = (viaGateway: boolean) =>
    sameNetworkSession(startYmsgNetwork, ['alice', 'bob'], { viaGateway, tap: true }, async (alice, bob) => {
      await befriend(alice, bob, 'may I add you?', { message: 'may I add you?' });
      await imTypingAway(alice, bob);
      expect(keysOf(alice.buddies())).toEqual(['bob@yahoo']);
      expect(keysOf(bob.buddies())).toEqual(['alice@yahoo']);
      await alice.logout();
      await bob.logout();
    });

  const runs = withAndWithoutGateway(session);

  it('the gateway proxied both logins with the ymsg codec and intercepted nothing', () => {
    expectOnlyVerified(runs.proxied, ['ymsg:alice@yahoo', 'ymsg:bob@yahoo']);
  });

  it('every byte each client wrote reached the server, and every byte the server wrote reached the client', () => {
    expectBytesRelayed(runs.proxied, 2);
  });

  it('the session through the gateway is the session without it (what the server randomises aside)', () => {
    expect(runs.plain.clientSide).toHaveLength(2);
    runs.plain.clientSide.forEach((client, i) => {
      const via = runs.proxied.clientSide[i]!;
      expect(packets(via.sent)).toEqual(packets(client.sent));
      expect(packets(via.received)).toEqual(packets(client.received));
      expect(packets(runs.proxied.serverSide[i]!.received)).toEqual(
        packets(runs.plain.serverSide[i]!.received),
      );
    });
  });
});
