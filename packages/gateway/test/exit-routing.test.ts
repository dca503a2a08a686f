import { Writable } from 'node:stream';
import {
  type Address,
  type CallInviteEvent,
  type CanonicalEvent,
  MemoryDht,
  parseAddress,
} from '@crosstalk/core';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { G2gType } from '../src/g2g/wire.js';
import {
  type CrossTalkNode,
  createNode,
  Directory,
  type ExitContext,
  type ExitHandle,
  G2gNode,
  G2gRefusedError,
  type GatewayIdentity,
  generateIdentity,
  jsonForm,
  TcpG2gTransport,
  type UserSession,
} from '../src/index.js';
import { type EnvelopeStep, encodeEnvelope, signEnvelope } from '../src/routing/envelope.js';

/** A second form named as codec-xmpp's stanza form (its bytes are JSON: only the name matters here). */
const stanzaLike = { ...jsonForm, name: 'xmpp-stanza' };

const OFFER =
  'v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

/**
 * Exits in the capability graph (issue 17): node E adds an exit `exit:test` to the network
 * `test.example`, which has no CrossTalk users. A client-API-like user on node C calls
 * bob@test.example: no location record answers, so C composes a chain that ends in E's exit and
 * sends it in a signed envelope; E hands it to the exit. An attacker X with a key of its own (and a
 * user, mallory, whose location it publishes) sends E envelopes it made.
 */
describe('chains that end in an exit', () => {
  const dht = new MemoryDht();
  let c: CrossTalkNode;
  let e: CrossTalkNode;
  let handle: ExitHandle;
  const x: GatewayIdentity = generateIdentity();
  const b: GatewayIdentity = generateIdentity();
  let attacker: G2gNode;
  const delivered: { event: CanonicalEvent; context: ExitContext }[] = [];
  const atAlice: CanonicalEvent[] = [];
  let alice: UserSession;
  const lines: Record<string, unknown>[] = [];
  const bob: Address = { user: 'bob', network: 'test.example' };
  const aliceAddress = parseAddress('alice@aol');

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    e = await createNode({ dht, canonical: [jsonForm, stanzaLike], logger: pino(sink) });
    c = await createNode({ dht, logger: false });
    handle = await e.addExit({
      protocol: 'exit:test',
      networks: ['Test.Example'],
      preserves: ['call-invite', 'call-signal'],
      deliver: (event, context) => {
        delivered.push({ event, context });
        return 'test';
      },
    });
    alice = await c.attach(aliceAddress, { deliver: (ev) => atAlice.push(ev) > 0 }, { protocol: 'api' });
    attacker = new G2gNode({ transport: new TcpG2gTransport({ identity: x }), onEvent: async () => 'x' });
    const contact = await attacker.listen();
    // X serves mallory@aol as far as the directory says: its envelopes pass the origin check.
    await new Directory({ dht, identity: x }).publishLocation(parseAddress('mallory@aol'), contact);
    await c.routing.refresh();
    await e.routing.refresh();
  });

  afterAll(async () => {
    await attacker.close();
    await alice.detach();
    await c.close();
    await e.close();
  });

  const invite = (id: string, to: Address = bob): Omit<CallInviteEvent, 'from'> => ({
    kind: 'call-invite',
    id,
    to,
    sdp: OFFER,
    media: ['audio'],
  });

  it('the caller composes a chain ending in the exit, and the exit takes the call-invite from it; the exit answers as bob', async () => {
    expect(e.routing.capabilities()).toEqual(
      expect.arrayContaining(['canonical:json>exit:test', 'canonical:xmpp-stanza>exit:test']),
    );
    const route = c.routing.route('api', 'test.example');
    expect(route?.steps.map((s) => [s.from, s.to, s.gateway])).toEqual([
      ['canonical:json', 'exit:test', e.id],
    ]);
    const before = delivered.length;
    expect(await alice.send(invite('call-1'))).toBe('delivered');
    expect(delivered).toHaveLength(before + 1);
    const got = delivered.at(-1)!;
    expect(got.event).toMatchObject({ kind: 'call-invite', id: 'call-1', from: aliceAddress, to: bob });
    expect(got.context.origin).toBe(c.id);
    // It went in an envelope (a routed event), not a plain frame.
    const routed = (await e.metrics.routed.get()).values.find((v) => v.labels.role === 'delivery');
    expect(routed?.value).toBeGreaterThanOrEqual(1);
    // Back: bob rings, as the exit (C believes it: E advertises an exit to bob's network).
    await handle.send({ kind: 'call-signal', id: 'call-1', from: bob, to: aliceAddress, signal: 'ringing' });
    expect(atAlice.at(-1)).toMatchObject({ kind: 'call-signal', id: 'call-1', from: bob, signal: 'ringing' });
    // An IM has no chain into a call exit.
    await expect(
      alice.send({ kind: 'im', id: 'm', to: bob, text: 'hi', sentAt: Date.now() }),
    ).rejects.toMatchObject({ code: 'ERR_NO_TRANSLATION_PATH' });
  });

  it('the exit speaks only for its own networks', async () => {
    await expect(
      handle.send({
        kind: 'call-signal',
        id: 'call-1',
        from: { user: 'carol', network: 'other.example' },
        to: aliceAddress,
        signal: 'ringing',
      }),
    ).rejects.toMatchObject({ code: 'ERR_EXIT_REFUSED' });
  });

  // ------------------------------------------------------------------ X's envelopes

  const step = (g: { id: string; contact?: unknown }, from: string, to: string): EnvelopeStep => ({
    from,
    to,
    gateway: g.id,
    contact: (g.contact as EnvelopeStep['contact']) ?? { transport: 'tcp', host: '127.0.0.1', port: 1 },
  });

  function envelope(chain: EnvelopeStep[], to: string, over: { next?: number; form?: string } = {}) {
    const header = signEnvelope(x, {
      id: `x-${Math.random()}`,
      issuedAt: Date.now(),
      from: 'mallory@aol',
      to,
      kind: 'call-invite',
      chain,
      hopLimit: Math.max(1, new Set(chain.map((s) => s.gateway)).size),
      next: over.next ?? 0,
      form: over.form ?? 'json',
      lost: [],
    });
    const at = to.lastIndexOf('@');
    const payload = jsonForm.encode({
      ...invite('x-call', { user: to.slice(0, at), network: to.slice(at + 1) }),
      from: parseAddress('mallory@aol'),
    });
    return encodeEnvelope({ header, payload });
  }

  async function send(to: CrossTalkNode, bytes: Uint8Array, type: number = G2gType.routed): Promise<string> {
    try {
      return `ACK ${await attacker.send({ id: to.id, contact: to.contact }, bytes, type)}`;
    } catch (error) {
      if (error instanceof G2gRefusedError) return error.refusal;
      throw error;
    }
  }

  /** How often E refused for `reason`: its counter, which must agree with its `refused` log lines. */
  async function refused(reason: string): Promise<number> {
    const counted =
      (await e.metrics.refused.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
    const logged = lines.filter((l) => l.msg === 'refused' && l.reason === reason).length;
    expect(logged, `${reason}: logged as often as counted`).toBe(counted);
    return counted;
  }

  it('a well-formed chain from X for its own user reaches the exit (the control for the refusals below)', async () => {
    const before = delivered.length;
    expect(await send(e, envelope([step(e, 'canonical:json', 'exit:test')], 'bob@test.example'))).toBe(
      'ACK test',
    );
    expect(delivered).toHaveLength(before + 1);
    expect(delivered.at(-1)!.context.origin).toBe(x.id);
  });

  it('a target outside the exit’s networks is refused, counted and logged; the exit never sees it', async () => {
    const before = await refused('ERR_EXIT_REFUSED');
    const seen = delivered.length;
    expect(await send(e, envelope([step(e, 'canonical:json', 'exit:test')], 'carol@other.example'))).toBe(
      'ERR_EXIT_REFUSED',
    );
    expect(await refused('ERR_EXIT_REFUSED')).toBe(before + 1);
    expect(delivered).toHaveLength(seen);
  });

  it('a chain that goes on past the exit is refused, counted and logged', async () => {
    const before = await refused('ERR_EXIT_REFUSED');
    const y = generateIdentity();
    const chain = [step(e, 'canonical:json', 'exit:test'), step(y, 'exit:test', 'irc')];
    expect(await send(e, envelope(chain, 'bob@test.example'))).toBe('ERR_EXIT_REFUSED');
    expect(await refused('ERR_EXIT_REFUSED')).toBe(before + 1);
  });

  it('an envelope from a gateway that is not the previous step’s is refused before the exit sees it', async () => {
    const before = await refused('ERR_WRONG_PREVIOUS_HOP');
    const seen = delivered.length;
    const chain = [
      step(b, 'canonical:json', 'canonical:xmpp-stanza'),
      step(e, 'canonical:xmpp-stanza', 'exit:test'),
    ];
    expect(await send(e, envelope(chain, 'bob@test.example', { next: 1, form: 'xmpp-stanza' }))).toBe(
      'ERR_WRONG_PREVIOUS_HOP',
    );
    expect(await refused('ERR_WRONG_PREVIOUS_HOP')).toBe(before + 1);
    expect(delivered).toHaveLength(seen);
  });

  it('a plain event to an exit’s address is not a chain ending in the exit: refused, not handed to it', async () => {
    const seen = delivered.length;
    const payload = jsonForm.encode({ ...invite('x-plain'), from: parseAddress('mallory@aol') });
    expect(await send(e, payload, G2gType.event)).toBe('ERR_USER_OFFLINE');
    expect(delivered).toHaveLength(seen);
  });

  it('a gateway that advertises no exit to a network cannot speak for its addresses', async () => {
    const payload = jsonForm.encode({
      kind: 'call-signal',
      id: 'call-1',
      from: bob,
      to: aliceAddress,
      signal: 'hangup',
    });
    expect(await send(c, payload, G2gType.event)).toBe('ERR_SPOOFED_EVENT');
    expect(atAlice.filter((ev) => ev.kind === 'call-signal' && ev.signal === 'hangup')).toHaveLength(0);
  });

  it('an exit reconfigured since the caller read the graph: the caller gets the exit’s typed refusal', async () => {
    const f = await createNode({ dht, logger: false });
    try {
      const first = await f.addExit({
        protocol: 'exit:test',
        networks: ['stale.example'],
        preserves: ['call-invite', 'call-signal'],
        deliver: () => 'test',
      });
      await c.routing.refresh();
      // F now exits elsewhere; C still holds F's old record (cached until its next read).
      await first.remove();
      await f.addExit({
        protocol: 'exit:test',
        networks: ['fresh.example'],
        preserves: ['call-invite', 'call-signal'],
        deliver: () => 'test',
      });
      expect(c.routing.route('api', 'stale.example')?.steps.at(-1)?.gateway).toBe(f.id);
      const counted = async () =>
        (await f.metrics.refused.get()).values.find((v) => v.labels.reason === 'ERR_EXIT_REFUSED')?.value ??
        0;
      const before = await counted();
      await expect(
        alice.send(invite('call-stale', { user: 'dave', network: 'stale.example' })),
      ).rejects.toMatchObject({ name: 'ExitRefusedError', code: 'ERR_EXIT_REFUSED' });
      expect(await counted()).toBe(before + 1);
    } finally {
      await f.close();
    }
  });
});
