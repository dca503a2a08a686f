import { builtInCodecs } from '@crosstalk/cli';
import {
  type NetworkFixture,
  startOscarNetwork,
  startYmsgNetwork,
  type UserDriver,
} from '@crosstalk/cli/drivers';
import { stanza } from '@crosstalk/codec-xmpp';
import { type Address, addressKey, type Dht, type DhtPutOptions, MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESIGNS, type People, SimNetwork } from '../gateway-model.js';
import { Meter } from '../meter.js';
import { EventQueue } from '../queue.js';
import { Rng } from '../rng.js';

/**
 * The model's gateway against the real one: two real gateways (createGateway, SOCKS, G2G over TCP)
 * with a Yahoo user and an AIM user who are foreign buddies, and the model's two gateways with the
 * same two users, go through the same steps (logins, a presence change, an IM, logouts); every
 * directory call each gateway makes in a step is logged, by gateway, method and record kind, and
 * the two logs must hold the same calls. Both run on a clock that moves only when told (so caches
 * and TTLs are alike) with a soft TTL of an hour (so no refresh timer fires during the test).
 */

type Call = string;

/** A Dht that logs each call as `<gateway> <method> <record kind>` into a shared log. */
class LoggingDht implements Dht {
  readonly limits;
  constructor(
    readonly inner: Dht,
    readonly name: string,
    readonly log: Call[],
  ) {
    this.limits = inner.limits;
  }
  #note(method: string, key: string) {
    this.log.push(`${this.name} ${method} ${key.slice(0, key.indexOf(':'))}`);
  }
  async put(key: string, value: Uint8Array, options?: DhtPutOptions) {
    this.#note('put', key);
    return this.inner.put(key, value, options);
  }
  async get(key: string) {
    this.#note('get', key);
    return this.inner.get(key);
  }
  async remove(key: string, value: Uint8Array, secret: string) {
    this.#note('remove', key);
    return this.inner.remove(key, value, secret);
  }
  async close() {}
}

const SOFT_TTL = 3_600_000;
const START = 1_800_000_000_000;

let yahoo: NetworkFixture;
let aim: NetworkFixture;
const real: Gateway[] = [];
const drivers: UserDriver[] = [];
let clock = START;
const realLog: Call[] = [];

// The model's side: two gateways, the two users (0 on gateway 0, 1 on gateway 1), buddies.
const modelLog: Call[] = [];
const queue = new EventQueue();
const meter = new Meter(2, 1, new Rng(1));
let addresses: Address[] = [];
const people: People = {
  users: 2,
  gateways: 2,
  gatewayOf: (i) => i,
  buddiesOf: (i) => Int32Array.of(1 - i),
  address: (i) => addresses[i]!,
  indexOf: (a) => addresses.findIndex((x) => addressKey(x) === addressKey(a)),
};
let model: SimNetwork;

beforeAll(async () => {
  yahoo = await startYmsgNetwork([{ name: 'alice', password: 'alicepw' }]);
  aim = await startOscarNetwork([{ name: 'bobaim', password: 'bobpw' }]);
  const memory = new MemoryDht({ now: () => clock });
  for (const name of ['g0', 'g1']) {
    real.push(
      await createGateway({
        codecs: builtInCodecs(),
        dht: new LoggingDht(memory, name, realLog),
        canonical: stanza,
        socks: { port: 0 },
        logger: false,
        now: () => clock,
        softTtl: SOFT_TTL,
      }),
    );
  }
  // The model's gateways keep time by the queue; the real ones by `clock`, moved alongside.
  const modelMemory = new MemoryDht({ now: () => queue.now });
  model = new SimNetwork({
    population: people,
    queue,
    meter,
    design: DESIGNS[0]!,
    canonical: stanza,
    softTtl: SOFT_TTL,
    dhtFor: (g) => new LoggingDht(modelMemory, `g${g}`, modelLog),
    linkCost: () => {},
    rng: new Rng(2),
  });
}, 60_000);

afterAll(async () => {
  for (const d of drivers.splice(0)) await d.disconnect().catch(() => {});
  for (const g of real.splice(0)) await g.close();
  await yahoo?.stop();
  await aim?.stop();
});

function user(fixture: NetworkFixture, name: string, via: Gateway): UserDriver {
  const d = fixture.driver(name, (host, port) => socksConnect(via.socks, host, port));
  drivers.push(d);
  return d;
}

/** Moves both clocks on (`ms` of virtual time). */
async function advance(ms: number): Promise<void> {
  clock += ms;
  await queue.run(queue.now + ms);
}

/** Until the real gateways' directory calls stop: as many as the model made, then a quiet spell. */
async function settle(expected: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  let seen = -1;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (realLog.length >= expected && realLog.length === seen) return;
    seen = realLog.length;
  }
}

const tally = (log: Call[]) => [...log].sort();

/** One step on both sides; returns both logs of it. */
async function step(
  name: string,
  onReal: () => Promise<unknown>,
  onModel: () => Promise<unknown>,
): Promise<{ real: Call[]; model: Call[] }> {
  realLog.length = 0;
  modelLog.length = 0;
  await meter.measure(name, onModel);
  await onReal();
  await settle(modelLog.length);
  return { real: tally(realLog), model: tally(modelLog) };
}

describe('the model of a gateway against the real gateway', () => {
  it('makes the same directory calls for logins, a presence change, an IM and logouts', async () => {
    const alice = user(yahoo, 'alice', real[0]!);
    const bob = user(aim, 'bobaim', real[1]!);
    addresses = [alice.address, bob.address];

    // Setting up: both online, they become buddies, both leave; the model logs in and out alike.
    await alice.login();
    await bob.login();
    await alice.addBuddy(bob.address);
    await bob.nextBuddyRequest(alice.address);
    await bob.answerBuddyRequest(alice.address, true);
    await alice.nextBuddyResponse(bob.address);
    await bob.logout();
    await alice.logout();
    await meter.measure('setup', async () => {
      await model.gateways[0]!.login(0);
      await model.gateways[1]!.login(1);
      await model.gateways[1]!.logout(1);
      await model.gateways[0]!.logout(0);
    });
    await settle(0);
    // Past every location cache (30 s), well within the records' hour.
    await advance(60_000);
    expect(real[0]!.foreignBuddies(alice.address).map((b) => b.subscription)).toEqual(['both']);

    const steps: Record<string, { real: Call[]; model: Call[] }> = {};
    steps['bob logs in, alice offline'] = await step(
      'login',
      () => bob.login(),
      () => model.gateways[1]!.login(1),
    );
    await advance(1000);
    steps['alice logs in, bob online'] = await step(
      'login',
      async () => {
        await alice.login();
        await bob.nextPresence(alice.address, 'online');
      },
      () => model.gateways[0]!.login(0),
    );
    await advance(1000);
    steps['alice goes away'] = await step(
      'presence',
      async () => {
        await alice.setPresence('away');
        await bob.nextPresence(alice.address, 'away');
      },
      () => model.gateways[0]!.setPresence(0, 'away'),
    );
    // Past the location caches: the IM is routed by a fresh look-up, and checked by one at bob's gateway.
    await advance(60_000);
    steps['alice sends bob an IM, caches cold'] = await step(
      'im',
      async () => {
        await alice.sendIm(bob.address, 'hello');
        await bob.nextIm(alice.address);
      },
      () => model.gateways[0]!.im(0, 1, 'hello', 'm1'),
    );
    await advance(1000);
    steps['bob answers, caches warm'] = await step(
      'im',
      async () => {
        await bob.sendIm(alice.address, 'hi');
        await alice.nextIm(bob.address);
      },
      () => model.gateways[1]!.im(1, 0, 'hi', 'm2'),
    );
    // Past the caches again: bob's gateway looks alice up when her "offline" comes and must still
    // find the location it checks the sender against (the node tells before it withdraws).
    await advance(60_000);
    steps['alice logs out, caches cold'] = await step(
      'logout',
      async () => {
        await alice.logout();
        await bob.nextPresence(alice.address, 'offline');
      },
      () => model.gateways[0]!.logout(0),
    );
    await advance(1000);
    steps['bob logs out'] = await step(
      'logout',
      () => bob.logout(),
      () => model.gateways[1]!.logout(1),
    );

    for (const [name, logs] of Object.entries(steps)) {
      expect({ step: name, calls: logs.model }).toEqual({ step: name, calls: logs.real });
    }
  }, 120_000);
});
