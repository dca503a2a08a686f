import { once } from 'node:events';
import { connect } from 'node:net';
import { toyCodec } from '@crosstalk/compliance';
import { type CanonicalEvent, parseAddress } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import {
  createGateway,
  type GatewayEvent,
  type GatewayStatus,
  renderStatusPage,
  StatusBoard,
  socks4ConnectRequest,
} from '../src/index.js';

const where = {
  id: 'ab'.repeat(32),
  socks: { host: '127.0.0.1', port: 1080 },
  g2g: { host: '127.0.0.1', port: 4000 },
  contact: { transport: 'tcp', host: '127.0.0.1', port: 4000 },
};

function im(from: string, to: string): CanonicalEvent {
  return { kind: 'im', id: 'x', from: parseAddress(from), to: parseAddress(to), text: 'hi', sentAt: 0 };
}

/** A board on a clock the test moves. */
function board(options: { windowSeconds?: number; keep?: number } = {}) {
  let now = 1_000_000_000_000;
  const b = new StatusBoard({ now: () => now, ...options });
  return {
    b,
    at: (ms: number) => {
      now = 1_000_000_000_000 + ms;
    },
    feed: (...events: GatewayEvent[]) => {
      for (const e of events) b.observe(e);
    },
  };
}

describe('StatusBoard', () => {
  it('counts users online by protocol, from verified to offline, once per user', () => {
    const { b, feed } = board();
    const alice = parseAddress('alice@yahoo');
    feed(
      { type: 'verified', user: alice, protocol: 'ymsg', connection: 'c1' },
      { type: 'verified', user: alice, protocol: 'ymsg', connection: 'c2' },
      { type: 'verified', user: parseAddress('bob@aol'), protocol: 'oscar', connection: 'c3' },
      { type: 'verified', user: parseAddress('carol@aol'), protocol: 'oscar', connection: 'c4' },
    );
    expect(b.status(where).usersByProtocol).toEqual({ ymsg: 1, oscar: 2 });
    feed({ type: 'offline', user: parseAddress('BOB@aol') }); // AIM names are case-insensitive
    const status = b.status(where);
    expect(status.usersByProtocol).toEqual({ ymsg: 1, oscar: 1 });
    expect(status.users.map((u) => u.address)).toEqual(['alice@yahoo', 'carol@aol']);
  });

  it('averages translations per pair over the window, and forgets what left it', () => {
    const { b, at, feed } = board({ windowSeconds: 10 });
    const translated = (from: string, to: string): GatewayEvent => ({
      type: 'translated',
      event: im('alice@yahoo', 'bob@aol'),
      from,
      to,
    });
    at(20_000);
    for (let i = 0; i < 20; i++) feed(translated('ymsg', 'oscar'));
    feed(translated('oscar', 'ymsg'));
    at(29_500);
    expect(b.status(where).translations).toEqual([
      { from: 'ymsg', to: 'oscar', perSecond: 2, total: 20 },
      { from: 'oscar', to: 'ymsg', perSecond: 0.1, total: 1 },
    ]);
    at(30_000); // second 20 has left the 10-second window
    expect(b.status(where).translations.map((t) => t.perSecond)).toEqual([0, 0]);
    expect(b.status(where).translations.map((t) => t.total)).toEqual([20, 1]);
  });

  it('averages over the time it has run while that is shorter than the window', () => {
    const { b, at, feed } = board({ windowSeconds: 60 });
    at(1_500); // the board started at second 0, so seconds 0 and 1 have passed
    for (let i = 0; i < 4; i++)
      feed({ type: 'translated', event: im('alice@yahoo', 'bob@aol'), from: 'ymsg', to: 'oscar' });
    expect(b.status(where).translations[0]?.perSecond).toBe(2);
  });

  it('keeps the latest refusals and errors, newest first, and no more than `keep`', () => {
    const { b, at, feed } = board({ keep: 3 });
    for (let i = 0; i < 5; i++) {
      at(i * 1000);
      feed({ type: 'refused', reason: `ERR_${i}: no`, connection: `c${i}`, source: '127.0.0.1:5' });
    }
    at(9000);
    feed(
      { type: 'undeliverable', event: im('alice@yahoo', 'bob@aol'), reason: 'ERR_USER_OFFLINE' },
      {
        type: 'session',
        connection: 'c9',
        protocol: 'ymsg',
        event: { type: 'login-failed', code: 'bad-password', message: 'wrong password' },
      },
    );
    const recent = b.status(where).recent;
    expect(recent.map((r) => r.kind)).toEqual(['login-failed', 'undeliverable', 'refused']);
    expect(recent[0]).toMatchObject({ connection: 'c9', reason: 'bad-password: wrong password' });
    expect(recent[1]).toMatchObject({ target: 'bob@aol', reason: 'ERR_USER_OFFLINE (im)' });
    expect(recent[2]).toMatchObject({
      reason: 'ERR_4: no',
      connection: 'c4',
      source: '127.0.0.1:5',
      at: 1e12 + 4000,
    });
  });
});

describe('renderStatusPage', () => {
  const status = (over: Partial<GatewayStatus>): GatewayStatus => ({
    ...where,
    startedAt: 0,
    now: 3_723_000,
    usersByProtocol: {},
    users: [],
    windowSeconds: 60,
    translations: [],
    recent: [],
    ...over,
  });

  it('escapes everything that came from the network', () => {
    // A third-party network's rules may allow any character in a user name but controls.
    const user = parseAddress('<script>alert(1)</script>@thirdparty');
    const html = renderStatusPage(
      status({
        usersByProtocol: { '<b>proto</b>': 1 },
        users: [{ address: `${user.user}@${user.network}`, protocol: '<b>proto</b>', since: 0 }],
        recent: [
          {
            at: 0,
            kind: 'refused',
            reason: 'ERR_X: "quoted" & <i>',
            userId: `<img src=x onerror="alert(2)">`,
          },
        ],
      }),
    );
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('<i>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;@thirdparty');
    expect(html).toContain('USERID &lt;img src=x onerror=&quot;alert(2)&quot;&gt;');
    expect(html).toContain('ERR_X: &quot;quoted&quot; &amp; &lt;i&gt;');
  });

  it('shows the uptime, the addresses, and says so when there is nothing to list', () => {
    const html = renderStatusPage(status({}));
    expect(html).toContain('1h 2m 3s');
    expect(html).toContain('127.0.0.1:1080');
    expect(html).toContain('127.0.0.1:4000');
    expect(html).toContain('Nobody is logged in through this gateway.');
    expect(html).toContain('No event has been translated yet.');
  });
});

describe('status endpoint of a gateway', () => {
  async function get(port: number, path: string) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      csp: res.headers.get('content-security-policy'),
      body: await res.text(),
    };
  }

  it('serves the page at / and the figures at /status.json beside /metrics, a refusal listed', async () => {
    const g = await createGateway({
      codecs: [toyCodec()],
      socks: { port: 0 },
      metrics: { port: 0 },
      logger: false,
    });
    try {
      const port = g.metricsAddress!.port;
      // A CONNECT through the gateway to its own SOCKS port is refused (a loop), USERID and all.
      const refused = new Promise((resolve) => g.on((e) => e.type === 'refused' && resolve(e)));
      const socket = connect(g.socks.port, g.socks.host);
      await once(socket, 'connect');
      socket.write(socks4ConnectRequest(g.socks.host, g.socks.port, '<script>x</script>'));
      await refused;
      socket.destroy();

      const page = await get(port, '/');
      expect(page.status).toBe(200);
      expect(page.type).toBe('text/html; charset=utf-8');
      expect(page.csp).toContain("default-src 'none'");
      expect(page.body).toContain(g.id);
      expect(page.body).toContain(`USERID &lt;script&gt;x&lt;/script&gt;`);
      expect(page.body).toContain(`to ${g.socks.host}:${g.socks.port}`);
      expect(page.body).not.toContain('<script>');

      const json = await get(port, '/status.json');
      expect(json.type).toBe('application/json');
      const status = JSON.parse(json.body) as GatewayStatus;
      expect(status.id).toBe(g.id);
      expect(status.socks).toEqual(g.socks);
      expect(status.recent[0]).toMatchObject({ kind: 'refused', userId: '<script>x</script>' });
      expect(status.recent[0]?.source).toBe('127.0.0.1');

      expect((await get(port, '/metrics')).body).toContain('crosstalk_refused_total');
      expect((await get(port, '/nothing')).status).toBe(404);
    } finally {
      await g.close();
    }
  });
});
