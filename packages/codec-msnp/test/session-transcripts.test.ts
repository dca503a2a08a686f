import { bytesEqual, concatBytes, type ProxySession, type SessionEvent } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { eventsOf, testGateway } from './session-harness.js';
import { msnpConnection, TRANSCRIPTS, transcript } from './transcripts.js';

/**
 * The recorded Escargot sessions replayed through proxy sessions, one per connection, sharing one
 * cookie table as the engine does: every byte must come out exactly as it went in (no foreign
 * buddies are involved), and each login and switchboard must be identified and verified.
 */
describe.each(TRANSCRIPTS)('%s transcript through proxy sessions', (name) => {
  const gateway = testGateway();
  const sessions = new Map<string, ProxySession>();
  const toServer = new Map<string, Uint8Array[]>();
  const toClient = new Map<string, Uint8Array[]>();
  const sent = new Map<string, { client: Uint8Array[]; server: Uint8Array[] }>();
  const events = new Map<string, SessionEvent[]>();
  for (const entry of transcript(name)) {
    if (!msnpConnection(entry.conn)) continue;
    let session = sessions.get(entry.conn);
    if (!session) {
      session = gateway.open();
      sessions.set(entry.conn, session);
      toServer.set(entry.conn, []);
      toClient.set(entry.conn, []);
      sent.set(entry.conn, { client: [], server: [] });
      events.set(entry.conn, []);
    }
    sent.get(entry.conn)![entry.direction].push(entry.bytes);
    const out =
      entry.direction === 'client' ? session.fromClient(entry.bytes) : session.fromServer(entry.bytes);
    toServer.get(entry.conn)!.push(...out.toServer);
    toClient.get(entry.conn)!.push(...out.toClient);
    events.get(entry.conn)!.push(...out.events);
  }

  it('relays every connection byte for byte', () => {
    expect(sessions.size).toBeGreaterThanOrEqual(5);
    for (const [conn, { client, server }] of sent) {
      expect(
        bytesEqual(concatBytes(toServer.get(conn)!), concatBytes(client)),
        `${conn} client->server`,
      ).toBe(true);
      expect(
        bytesEqual(concatBytes(toClient.get(conn)!), concatBytes(server)),
        `${conn} server->client`,
      ).toBe(true);
    }
  });

  it('verifies each login and each switchboard through the cookie the notification session saw', () => {
    for (const [conn, session] of sessions) {
      const who = conn.split('/')[1]!;
      if (who === 'bad') continue;
      const verified = eventsOf(events.get(conn)!, 'verified');
      expect(
        verified.map((e) => e.address),
        conn,
      ).toEqual([{ user: `${who}@example.com`, network: 'msn' }]);
      expect(eventsOf(events.get(conn)!, 'identified')).toHaveLength(1);
      expect(session.user).toEqual({ user: `${who}@example.com`, network: 'msn' });
    }
  });

  it('reports the switchboard redirects and consumes their cookies', () => {
    const redirects = [...events.values()].flatMap((e) => eventsOf(e, 'redirect'));
    // alice's XFR SB and bob's RNG, both naming Escargot's unreachable m1.escargot.log1p.xyz:1864.
    expect(redirects).toEqual([
      { type: 'redirect', host: 'm1.escargot.log1p.xyz', port: 1864, purpose: 'switchboard' },
      { type: 'redirect', host: 'm1.escargot.log1p.xyz', port: 1864, purpose: 'switchboard' },
    ]);
    expect(gateway.cookies.size).toBe(0);
  });

  it('reports inbound presence and messages on verified connections', () => {
    const inbound = [...events.values()].flatMap((e) => eventsOf(e, 'inbound')).map((e) => e.event.kind);
    expect(inbound).toContain('presence');
    expect(inbound).toContain('im');
    expect(inbound).toContain('typing');
    expect(inbound).toContain('buddy-request'); // carol's `ADD 0 RL` / `ADC 0 RL`
  });

  // Only the MSNP2 and MSNP7 recordings start with a failed MD5 login.
  if (name === 'msnp2' || name === 'msnp7') {
    it('reports a refused login', () => {
      const bad = events.get('NS/bad')!;
      expect(eventsOf(bad, 'login-failed')).toEqual([
        { type: 'login-failed', address: { user: 'bob@example.com', network: 'msn' }, code: '911' },
      ]);
      expect(eventsOf(bad, 'verified')).toEqual([]);
    });
  }
});
