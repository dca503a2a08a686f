import { PassThrough, Readable } from 'node:stream';
import { stanza } from '@crosstalk/codec-xmpp';
import {
  type Codec,
  defineCodec,
  type Feature,
  featureSet,
  MemoryDht,
  SessionStateError,
} from '@crosstalk/core';
import { createGateway, type Gateway, jsonForm } from '@crosstalk/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route } from '../src/commands/route.js';
import { builtInCodecs, defaultRegistry, main } from '../src/index.js';

/** The IRC codec as a gateway that loads it declares it (examples/codec-irc): plain text, no typing. */
function ircDeclared(): Codec {
  const features: Feature[] = ['im', 'presence', 'presence.text', 'buddy-request', 'buddy-response'];
  const unused = () => {
    throw new SessionStateError('declared only');
  };
  return defineCodec({
    protocol: 'irc',
    networks: ['irc'],
    features: featureSet(...features),
    sniff: () => 'no',
    createFramer: unused,
    frames: {
      decode: (r) => r,
      encode: (f) => f as Uint8Array,
      toJson: (f) => f,
      fromJson: (j) => j as Uint8Array,
    },
    createTranslator: unused,
    openSession: unused,
  }) as Codec;
}

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => err.push(d));
  return {
    io: { stdin: Readable.from([]), stdout, stderr },
    stdout: () => Buffer.concat(out).toString(),
    stderr: () => Buffer.concat(err).toString(),
  };
}

describe('crosstalk route', () => {
  // The setting: A speaks only JSON (AIM and the other built-in codecs), B converts, D speaks
  // only stanzas and is the one gateway with the IRC codec.
  const dht = new MemoryDht();
  const gateways: Gateway[] = [];
  let a: Gateway;
  let b: Gateway;
  let d: Gateway;

  beforeAll(async () => {
    const start = (codecs: Codec[], canonical: typeof jsonForm | (typeof jsonForm)[]) =>
      createGateway({ codecs, canonical, dht, socks: { port: 0 }, logger: false });
    a = await start(builtInCodecs(), jsonForm);
    b = await start([], [jsonForm, stanza]);
    d = await start([ircDeclared()], stanza);
    gateways.push(a, b, d);
  });

  afterAll(async () => {
    for (const g of gateways) await g.close();
  });

  const short = (g: Gateway) => `${g.id.slice(0, 12)}…`;

  it('prints the chain from aim to irc: each step with its gateway, cost and kept features, and the losses', async () => {
    const t = io();
    expect(await route(defaultRegistry(), { from: 'aim', to: 'irc' }, t.io, { dht })).toBe(0);
    const text = t.stdout();
    expect(text.split('\n')[0]).toBe('Route from aim (oscar) to irc:');
    expect(text).toMatch(
      new RegExp(`1  oscar > canonical:json\\s+${short(a)}\\s+1\\s+im, im\\.html, typing`),
    );
    expect(text).toMatch(
      new RegExp(`2  canonical:json > canonical:xmpp-stanza\\s+${short(b)}\\s+1\\s+im, im\\.html, typing`),
    );
    expect(text).toMatch(
      new RegExp(`3  canonical:xmpp-stanza > irc\\s+${short(d)}\\s+1\\s+im, presence, presence\\.text`),
    );
    expect(text).toContain('total cost 3, 3 steps on 3 gateways, 2 transfers between them');
    expect(text).toContain('loses: buddy-request.message, im.html, presence.busy, presence.idle, typing\n');
  });

  it('--require typing: no chain keeps it, so it says so, shows the best chain without it, and exits 2', async () => {
    const t = io();
    expect(
      await route(defaultRegistry(), { from: 'aim', to: 'irc', require: ['typing'] }, t.io, { dht }),
    ).toBe(2);
    const text = t.stdout();
    expect(text).toMatch(
      /^No route from aim \(oscar\) to irc, keeping typing\.\n\nWithout that requirement:\n/,
    );
    expect(text).toContain('canonical:xmpp-stanza > irc');
  });

  it('a chain that keeps what is required: yahoo to msn keeping typing, all on gateway A', async () => {
    const t = io();
    expect(
      await route(defaultRegistry(), { from: 'yahoo', to: 'msn', require: ['typing'] }, t.io, { dht }),
    ).toBe(0);
    const text = t.stdout();
    expect(text.split('\n')[0]).toBe('Route from yahoo (ymsg) to msn, keeping typing:');
    expect(text).toContain('2 steps on 1 gateway, 0 transfers between them');
  });

  it('from a protocol no codec here speaks (irc), read from the records: back to AIM through B', async () => {
    const t = io();
    expect(await route(defaultRegistry(), { from: 'irc', to: 'aim' }, t.io, { dht })).toBe(0);
    const text = t.stdout();
    expect(text.split('\n')[0]).toBe('Route from irc to aim (aol):');
    expect(text).toMatch(new RegExp(`1  irc > canonical:xmpp-stanza\\s+${short(d)}`));
    expect(text).toMatch(new RegExp(`3  canonical:json > oscar\\s+${short(a)}`));
  });

  it('--json gives the steps, cost, transfers and losses', async () => {
    const t = io();
    expect(await route(defaultRegistry(), { from: 'oscar', to: 'irc', json: true }, t.io, { dht })).toBe(0);
    const json = JSON.parse(t.stdout()) as {
      from: string;
      network: string;
      route: { steps: { gateway: string }[]; cost: number; transfers: number; loses: string[] };
    };
    expect(json).toMatchObject({ from: 'oscar', network: 'irc', route: { cost: 3, transfers: 2 } });
    expect(json.route.steps.map((s) => s.gateway)).toEqual([a.id, b.id, d.id]);
    expect(json.route.loses).toEqual(expect.arrayContaining(['im.html', 'typing']));
  });

  it('stops with a usage error for an unknown feature, and without a shared directory to read', async () => {
    const bad = io();
    expect(
      await route(defaultRegistry(), { from: 'aim', to: 'irc', require: ['telepathy'] }, bad.io, { dht }),
    ).toBe(1);
    expect(bad.stderr()).toContain('unknown feature telepathy');
    const t = io();
    expect(await main(['route', '--from', 'aim', '--to', 'irc'], t.io)).toBe(1);
    expect(t.stderr()).toContain('give --bootstrap host:port');
  });
});
