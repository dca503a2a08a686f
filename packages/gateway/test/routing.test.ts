import { Writable } from 'node:stream';
import { MemoryDht } from '@crosstalk/core';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createGateway,
  G2gNode,
  G2gRefusedError,
  type Gateway,
  type GatewayIdentity,
  generateIdentity,
  jsonForm,
  TcpG2gTransport,
} from '../src/index.js';
import { type ForgedStep, forgeImEnvelope, routedG2gType } from '../src/testing/index.js';
import { aimLike, declaredCodec, ircLike } from './support/codecs.js';
import { until } from './support/until.js';

/** A second form named as codec-xmpp's stanza form (its bytes are JSON: only the name matters here). */
const stanzaLike = { ...jsonForm, name: 'xmpp-stanza' };

/**
 * Four gateways in this process, as in the issue: A speaks JSON (AIM), B and C convert between
 * JSON and stanzas, D speaks stanzas and alone has the IRC codec. An attacker X with a key of its
 * own dials them over G2G with envelopes it made.
 */
describe('hop-by-hop forwarding over G2G', () => {
  const dht = new MemoryDht();
  let a: Gateway;
  let b: Gateway;
  let c: Gateway;
  let d: Gateway;
  const x: GatewayIdentity = generateIdentity();
  let attacker: G2gNode;

  /** What each gateway logged (pino JSON lines), by gateway id. */
  const logs = new Map<string, Record<string, unknown>[]>();

  beforeAll(async () => {
    const start = async (codecs: ReturnType<typeof aimLike>[], canonical: (typeof jsonForm)[]) => {
      const lines: Record<string, unknown>[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
          done();
        },
      });
      const g = await createGateway({ codecs, canonical, dht, socks: { port: 0 }, logger: pino(sink) });
      logs.set(g.id, lines);
      return g;
    };
    a = await start([aimLike()], [jsonForm]);
    b = await start([], [jsonForm, stanzaLike]);
    c = await start([], [jsonForm, stanzaLike]);
    d = await start([ircLike()], [stanzaLike]);
    attacker = new G2gNode({ transport: new TcpG2gTransport({ identity: x }), onEvent: async () => 'x' });
    await attacker.listen();
    for (const g of [a, b, c, d]) await g.routing.refresh();
  });

  afterAll(async () => {
    await attacker.close();
    for (const g of [a, b, c, d]) await g.close();
  });

  const step = (g: Gateway | GatewayIdentity, from: string, to: string): ForgedStep => ({
    from,
    to,
    gateway: g.id,
    contact: 'contact' in g ? g.contact : { transport: 'tcp', host: '127.0.0.1', port: 1 },
  });

  /** X's envelope for an IM from alice@aol to bob@irc along `chain`, signed by `signer` (X unless told). */
  function envelope(
    chain: ForgedStep[],
    over: { next?: number; hops?: number; id?: string; signer?: GatewayIdentity; origin?: string } = {},
  ) {
    const { signer, ...rest } = over;
    return forgeImEnvelope({
      signer: signer ?? x,
      chain,
      from: { user: 'alice', network: 'aol' },
      to: { user: 'bob', network: 'irc' },
      text: 'hi',
      ...rest,
    });
  }

  /** What `to` answers X's envelope with: its refusal code. */
  async function send(to: Gateway, bytes: Uint8Array): Promise<string> {
    try {
      return `ACK ${await attacker.send({ id: to.id, contact: to.contact }, bytes, routedG2gType)}`;
    } catch (error) {
      if (error instanceof G2gRefusedError) return error.refusal;
      throw error;
    }
  }

  /** How many times `g` refused for `reason`: its counter, which must agree with its `refused` logs. */
  async function refused(g: Gateway, reason: string): Promise<number> {
    const metric = await g.metrics.refused.get();
    const counted = metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
    const logged = logs.get(g.id)!.filter((l) => l.msg === 'refused' && l.reason === reason).length;
    expect(logged, `${reason}: logged as often as counted`).toBe(counted);
    return counted;
  }

  /** X -> B -> D, the chain an AIM user on X would be given. */
  const viaB = () => [
    step(x, 'oscar', 'canonical:json'),
    step(b, 'canonical:json', 'canonical:xmpp-stanza'),
    step(d, 'canonical:xmpp-stanza', 'irc'),
  ];

  it('A composes a route to IRC at D through a converting gateway, and advertises none for IRC itself', () => {
    expect(a.routing.capabilities()).not.toContain('canonical:json>irc');
    expect(a.routing.networks()).toContain('irc');
    const route = a.routing.route('oscar', 'irc', { gateway: d.id })!;
    expect(route.steps.map((s) => s.gateway)).toEqual([
      a.id,
      expect.stringMatching(new RegExp(`^(${b.id}|${c.id})$`)),
      d.id,
    ]);
    expect(route.transfers).toBe(2);
    expect(route.loses).toEqual(expect.arrayContaining(['im.html', 'typing']));
  });

  it('a hop that is not the next step refuses: C given B’s step', async () => {
    const before = await refused(c, 'ERR_NOT_NEXT_HOP');
    expect(await send(c, envelope(viaB()))).toBe('ERR_NOT_NEXT_HOP');
    expect(await refused(c, 'ERR_NOT_NEXT_HOP')).toBe(before + 1);
  });

  it('an envelope with its hop limit run out (0 hops left) is refused', async () => {
    const before = await refused(b, 'ERR_HOP_LIMIT');
    expect(await send(b, envelope(viaB(), { hops: 0 }))).toBe('ERR_HOP_LIMIT');
    expect(await refused(b, 'ERR_HOP_LIMIT')).toBe(before + 1);
  });

  it('a forged origin: an envelope claiming A as origin but signed by X is refused by the first hop', async () => {
    const chain = [step(a, 'oscar', 'canonical:json'), ...viaB().slice(1)];
    const before = await refused(b, 'ERR_FORGED_ENVELOPE');
    expect(await send(b, envelope(chain, { origin: a.id }))).toBe('ERR_FORGED_ENVELOPE');
    expect(await refused(b, 'ERR_FORGED_ENVELOPE')).toBe(before + 1);
  });

  it('a well-signed origin that does not serve the sender: B relays, D refuses as spoofed, X hears why', async () => {
    const before = await refused(d, 'ERR_SPOOFED_EVENT');
    expect(await send(b, envelope(viaB()))).toBe('ERR_SPOOFED_EVENT');
    expect(await refused(d, 'ERR_SPOOFED_EVENT')).toBe(before + 1);
    // B relayed it: that is not B's refusal to count.
    expect(await refused(b, 'ERR_SPOOFED_EVENT')).toBe(0);
  });

  it('a sender that is not the previous step’s gateway is refused', async () => {
    const before = await refused(d, 'ERR_WRONG_PREVIOUS_HOP');
    expect(await send(d, envelope(viaB(), { next: 2, hops: 1 }))).toBe('ERR_WRONG_PREVIOUS_HOP');
    expect(await refused(d, 'ERR_WRONG_PREVIOUS_HOP')).toBe(before + 1);
  });

  it('a loop: a chain back through B is refused', async () => {
    const back = [
      step(x, 'oscar', 'canonical:json'),
      step(b, 'canonical:json', 'canonical:xmpp-stanza'),
      step(c, 'canonical:xmpp-stanza', 'canonical:json2'),
      step(b, 'canonical:json2', 'irc'),
    ];
    const before = await refused(b, 'ERR_ROUTE_LOOP');
    expect(await send(b, envelope(back))).toBe('ERR_ROUTE_LOOP');
    expect(await refused(b, 'ERR_ROUTE_LOOP')).toBe(before + 1);
  });

  it('the same envelope twice (a resend after a lost ACK, or a replay) is handled once and answered with the first outcome', async () => {
    const repeats = async (g: Gateway) =>
      (await g.metrics.routed.get()).values.find((v) => v.labels.role === 'repeat')?.value ?? 0;
    const [bBefore, dBefore] = [await refused(b, 'ERR_SPOOFED_EVENT'), await refused(d, 'ERR_SPOOFED_EVENT')];
    const [relayed, repeated] = [await repeats(b), await repeats(d)];
    const loops = await refused(b, 'ERR_ROUTE_LOOP');
    const once = envelope(viaB(), { id: 'replayed' });
    expect(await send(b, once)).toBe('ERR_SPOOFED_EVENT');
    expect(await send(b, once)).toBe('ERR_SPOOFED_EVENT');
    // B answered the second itself: D checked (and refused) the event once.
    expect(await refused(d, 'ERR_SPOOFED_EVENT')).toBe(dBefore + 1);
    expect(await repeats(b)).toBe(relayed + 1);
    expect(await repeats(d)).toBe(repeated);
    expect(await refused(b, 'ERR_SPOOFED_EVENT')).toBe(bBefore);
    expect(await refused(b, 'ERR_ROUTE_LOOP')).toBe(loops);
  });

  it('a recipient whose gateway stopped but whose location record is still read: "no route", told to the sender', async () => {
    // E alone delivers to ghostnet; its user's location record outlives it (a withdrawal that did
    // not reach the nodes A reads from, as on hyperdht), its capability records do not.
    const e = await createGateway({
      codecs: [declaredCodec('ghost', ['ghostnet'], ['im', 'presence'])],
      canonical: [stanzaLike],
      dht,
      socks: { port: 0 },
      logger: false,
    });
    const ghost = { user: 'casper', network: 'ghostnet' };
    await e.directory.publishLocation(ghost, e.contact);
    await a.routing.refresh();
    expect(a.routing.networks()).toContain('ghostnet');
    await e.close();
    const told: string[] = [];
    const session = await a.node.attach(
      { user: 'dora', network: 'aol' },
      {
        deliver: (event) => {
          if (event.kind === 'im') told.push(event.text);
          return true;
        },
      },
      { protocol: 'oscar' },
    );
    try {
      await expect(
        session.send({ kind: 'im', id: 'g1', to: ghost, text: 'boo', sentAt: 1 }),
      ).rejects.toMatchObject({ code: 'ERR_NO_ROUTE' });
      expect(told).toEqual([
        expect.stringMatching(/could not deliver your message to casper@ghostnet: no route/),
      ]);
    } finally {
      await session.detach();
    }
  });

  /**
   * F delivers to two networks; A read the graph while F had advertised one of them only (its
   * records are put one by one), so A knows F but has no chain to F's wraith users; F has then
   * advertised the other. Returns F's wraith user (whose IMs land in `got`) and an AOL user at A.
   */
  async function missedEdge(names: { wraith: string; aol: string }) {
    const f = await createGateway({
      codecs: [
        declaredCodec('phantom', ['phantomnet'], ['im', 'presence']),
        declaredCodec('wraith', ['wraithnet'], ['im', 'presence']),
      ],
      canonical: [stanzaLike],
      dht,
      socks: { port: 0 },
      logger: false,
    });
    const got: string[] = [];
    const wraith = { user: names.wraith, network: 'wraithnet' };
    const there = await f.node.attach(
      wraith,
      {
        deliver: (event) => {
          if (event.kind === 'im') got.push(event.text);
          return true;
        },
      },
      { protocol: 'wraith' },
    );
    const here = await a.node.attach(
      { user: names.aol, network: 'aol' },
      { deliver: () => true },
      { protocol: 'oscar' },
    );
    const close = async () => {
      await here.detach();
      await there.detach();
      await f.close();
    };
    try {
      const edge = 'canonical:xmpp-stanza>wraith';
      const [record] = (await f.directory.capabilities(edge)).filter((r) => r.gateway === f.id);
      await f.directory.withdrawCapability(edge);
      await a.routing.refresh();
      expect(a.routing.networks()).toContain('phantomnet');
      expect(a.routing.networks()).not.toContain('wraithnet');
      const { cost, preserves, networks, contact } = record!;
      await f.directory.publishCapability(edge, { cost, preserves, networks, contact });
    } catch (error) {
      await close();
      throw error;
    }
    return { wraith, here, got, close };
  }

  it('a known gateway whose edge into the recipient’s protocol the last read missed: read again, delivered', async () => {
    const { wraith, here, got, close } = await missedEdge({ wraith: 'wendy', aol: 'walt' });
    try {
      await here.send({ kind: 'im', id: 'w1', to: wraith, text: 'boo', sentAt: 1 });
      expect(got).toEqual(['boo']);
    } finally {
      await close();
    }
  });

  it('events asking for the same read again within a second wait for it, rather than failing "no route"', async () => {
    // As above, but A's reads of the capability graph are slow (a DHT busy with a login burst):
    // the first IM starts the read again, the second asks within the same second.
    const { wraith, here, got, close } = await missedEdge({ wraith: 'wanda', aol: 'wes' });
    const get = dht.get.bind(dht);
    let release: () => void = () => {};
    try {
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let capabilityReads = 0;
      dht.get = async (key) => {
        if (key.startsWith('cap:')) {
          capabilityReads++;
          await held;
        }
        return get(key);
      };
      const first = here.send({ kind: 'im', id: 'v1', to: wraith, text: 'one', sentAt: 1 });
      await until(() => capabilityReads > 0);
      const second = here.send({ kind: 'im', id: 'v2', to: wraith, text: 'two', sentAt: 2 });
      let secondDone = false;
      void second.then(
        () => {
          secondDone = true;
        },
        () => {
          secondDone = true;
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(secondDone).toBe(false);
      release();
      await Promise.all([first, second]);
      expect(got.sort()).toEqual(['one', 'two']);
    } finally {
      release();
      dht.get = get;
      await close();
    }
  });

  it('a gateway that takes no routed events (a plain G2G node) answers with a protocol refusal', async () => {
    const plain = new G2gNode({
      transport: new TcpG2gTransport({ identity: generateIdentity() }),
      onEvent: async () => 'p',
    });
    const contact = await plain.listen();
    try {
      await expect(
        attacker.send({ id: plain.id, contact }, envelope(viaB()), routedG2gType),
      ).rejects.toMatchObject({
        refusal: 'ERR_G2G_PROTOCOL',
      });
    } finally {
      await plain.close();
    }
  });
});
