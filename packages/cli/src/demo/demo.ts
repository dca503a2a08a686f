import { type Address, formatAddress, MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { builtInCodecs, canonicalForm } from '../codecs.js';
import type { NetworkFixture, StartNetwork, UserDriver } from '../drivers/driver.js';

/**
 * `npm run demo`: one gateway per network in this process, sharing an in-memory DHT; each
 * network's (mock or real) server; and one scripted user per network, whose client reaches its
 * server only through its gateway's SOCKS port. The users add one another across networks, chat
 * (non-ASCII included), type, change presence, and log out and back in; the transcript shows what
 * each client saw and what the gateways carried.
 */
export interface DemoNetwork {
  /** The network's name in the transcript. */
  label: string;
  /** Starts its server. */
  start: StartNetwork;
  /** The demo's user there. */
  user: { name: string; password: string };
}

/** Options of `runDemo`. */
export interface DemoOptions {
  /** The networks taking part. */
  networks: readonly DemoNetwork[];
  /** Takes each transcript line. */
  out: (line: string) => void;
  /** Print every gateway translation (default true). */
  showGateways?: boolean;
}

interface Participant {
  label: string;
  fixture: NetworkFixture;
  gateway: Gateway;
  driver: UserDriver;
  address: Address;
}

/**
 * Runs the demo (`npm run demo`): a gateway, a server and a scripted user per network, the users adding one
 * another across networks, chatting, typing, changing presence and logging back in; writes the transcript to
 * `out`.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const started = Date.now();
  const stamp = () => `+${((Date.now() - started) / 1000).toFixed(3)}s`.padStart(9);
  const say = (line: string) => options.out(`${stamp()}  ${line}`);
  const dht = new MemoryDht();
  const people: Participant[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  const showGateways = options.showGateways !== false;
  // A gateway reports a translation once the far gateway has taken the event, which is after the
  // far client may already have it. So that the transcript reads in causal order, a line saying
  // what a client saw waits (briefly) for the gateway line that carried it.
  const carried: { key: string; seq: number }[] = [];
  const waiters = new Set<() => void>();
  let seq = 0;
  const carry = (key: string, line: string) => {
    carried.push({ key, seq: ++seq });
    say(line);
    for (const wake of [...waiters]) wake();
  };
  const keyOf = (kind: string, from: Address, to: Address) =>
    `${kind} ${formatAddress(from)} ${formatAddress(to)}`;
  /** Prints `line` once a gateway has reported carrying `kind` from -> to after `since`. */
  const seen = async (line: string, cause: { kind: string; from: Address; to: Address }, since: number) => {
    const key = keyOf(cause.kind, cause.from, cause.to);
    const found = () => {
      const i = carried.findIndex((c) => c.key === key && c.seq > since);
      if (i >= 0) carried.splice(i, 1);
      return i >= 0;
    };
    if (showGateways && !found()) {
      await new Promise<void>((resolve) => {
        // Bounded: the report follows the delivery within milliseconds; never hold the demo up.
        const timer = setTimeout(done, 2_000);
        function done() {
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        }
        function check() {
          if (found()) done();
        }
        waiters.add(check);
      });
    }
    say(line);
  };
  try {
    for (const network of options.networks) {
      let fixture: NetworkFixture;
      try {
        fixture = await network.start([network.user]);
      } catch (error) {
        options.out(`(skipping ${network.label}: ${error instanceof Error ? error.message : String(error)})`);
        continue;
      }
      cleanup.push(() => fixture.stop());
      const gateway = await createGateway({
        codecs: builtInCodecs(),
        dht,
        canonical: canonicalForm(),
        socks: { host: '127.0.0.1', port: 0 },
        logger: false,
      });
      cleanup.push(() => gateway.close());
      if (showGateways) {
        gateway.on((e) => {
          if (e.type === 'translated' && 'from' in e.event) {
            const to = 'to' in e.event && e.event.to ? e.event.to : undefined;
            carry(
              to ? keyOf(e.event.kind, e.event.from, to) : '',
              `   [gateway ${network.label}] ${e.event.kind} ${formatAddress(e.event.from)} -> ${to ? formatAddress(to) : ''}: ${e.from} -> ${e.to}`,
            );
          } else if (e.type === 'pending-held') {
            say(
              `   [gateway ${network.label}] ${formatAddress(e.event.to)} is offline: request held in the DHT`,
            );
          }
        });
      }
      const driver = fixture.driver(network.user.name, (host, port) =>
        socksConnect(gateway.socks, host, port),
      );
      people.push({ label: network.label, fixture, gateway, driver, address: driver.address });
      options.out(
        `${network.label.padEnd(6)} server ${fixture.server.host}:${fixture.server.port}, gateway ${gateway.id.slice(0, 12)}… SOCKS ${gateway.socks.port}, user ${formatAddress(driver.address)}`,
      );
    }
    if (people.length < 2) throw new Error('the demo needs at least two networks');
    options.out('');
    const name = (p: Participant) => `${formatAddress(p.address)} (${p.label})`;

    for (const p of people) {
      await p.driver.login();
      say(`${name(p)} logged in through its gateway`);
    }

    // Pairs around the ring: each user befriends the next one.
    const pairs = people
      .map((p, i) => [p, people[(i + 1) % people.length]!] as const)
      .slice(0, people.length === 2 ? 1 : people.length);
    for (const [index, [a, b]] of pairs.entries()) {
      const offline = index % 2 === 1; // every other request goes to a user who is offline
      if (offline) {
        await b.driver.logout();
        say(`${name(b)} logged out`);
      }
      say(`${name(a)} adds ${formatAddress(b.address)}`);
      let since = seq;
      await a.driver.addBuddy(b.address, `hi, it's ${a.address.user}`);
      if (offline) {
        await b.driver.login();
        say(`${name(b)} logs back in`);
      }
      await b.driver.nextBuddyRequest(a.address, 20_000);
      const request = `${name(b)} sees a buddy request from ${formatAddress(a.address)}`;
      if (offline) say(`${request} (it waited while they were offline)`);
      else await seen(request, { kind: 'buddy-request', from: a.address, to: b.address }, since);
      say(`${name(b)} accepts`);
      since = seq;
      await b.driver.answerBuddyRequest(a.address, true);
      const answer = await a.driver.nextBuddyResponse(b.address, 20_000);
      await seen(
        `${name(a)} sees the answer: ${answer.accepted ? 'accepted' : 'denied'}`,
        { kind: 'buddy-response', from: b.address, to: a.address },
        since,
      );
    }

    for (const [a, b] of pairs) {
      const hello = `héllo ${b.address.user}, wörld ✓ — from ${a.label}`;
      let since = seq;
      await a.driver.sendTyping(b.address, 'composing');
      const typing = await b.driver.nextTyping(a.address);
      await seen(
        `${name(b)} sees ${formatAddress(a.address)} ${typing}`,
        { kind: 'typing', from: a.address, to: b.address },
        since,
      );
      since = seq;
      await a.driver.sendIm(b.address, hello);
      const got = await b.driver.nextIm(a.address);
      await seen(`${name(b)} got: "${got}"`, { kind: 'im', from: a.address, to: b.address }, since);
      since = seq;
      await b.driver.sendIm(a.address, `こんにちは ${a.address.user} 👋`);
      const reply = await a.driver.nextIm(b.address);
      await seen(`${name(a)} got: "${reply}"`, { kind: 'im', from: b.address, to: a.address }, since);
    }

    // Each change on its own: away, seen as away; back, seen as online.
    const [first, second] = [pairs[0]![0], pairs[0]![1]];
    const presence = { kind: 'presence', from: second.address, to: first.address };
    say(`${name(second)} goes away ("at lunch")`);
    let since = seq;
    await second.driver.setPresence('away', 'at lunch');
    const away = await first.driver.nextPresence(second.address, 'away');
    await seen(`${name(first)} sees ${formatAddress(second.address)} ${away}`, presence, since);
    say(`${name(second)} is back`);
    since = seq;
    await second.driver.setPresence('online');
    const back = await first.driver.nextPresence(second.address, 'online');
    await seen(`${name(first)} sees ${formatAddress(second.address)} ${back} again`, presence, since);

    for (const p of [first, second]) await p.driver.logout();
    say(`${name(first)} and ${name(second)} log out`);
    for (const p of [first, second]) await p.driver.login();
    say('… and back in');
    for (const [p, q] of [
      [first, second],
      [second, first],
    ] as const) {
      const has = p.driver.buddies().some((b) => formatAddress(b) === formatAddress(q.address));
      say(`${name(p)}'s buddy list ${has ? 'still shows' : 'LOST'} ${formatAddress(q.address)}`);
    }
    for (const p of people) await p.driver.logout();
    options.out('');
    options.out(`Done: ${people.length} networks, ${people.length} gateways, one shared DHT.`);
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
}
