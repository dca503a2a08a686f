import { type Address, addressKey } from '@crosstalk/core';
import { expect } from 'vitest';
import { builtInCodecs } from '../../src/codecs.js';
import type { UserDriver } from '../../src/drivers/index.js';
import { type GatewayView, gatewayEvent } from './gateway.js';

export { type GatewayView, gatewayEvent, startGateway, through } from './gateway.js';

/**
 * The paper's walk-through (Motoyama & Varghese, §3.2) as reusable steps for the end-to-end tests:
 * real gateways, real sockets on 127.0.0.1, clients that reach their server only through their
 * gateway's SOCKS port.
 */
export const TEXT = 'héllo wörld ✓';
export const TEXT_BACK = 'and back: ünïcödé ✓ 日本語 😀';

/** A user of one network, the gateway their client goes through, and the network's protocol. */
export interface Party {
  user: UserDriver;
  gateway: GatewayView;
  protocol: string;
}

export const keysOf = (list: Address[]) => list.map(addressKey);
export const same = (a: Address, b: Address) => addressKey(a) === addressKey(b);

/** Whether a buddy request's message survives into and out of `protocol` (MSNP has nowhere to put one). */
export const carriesRequestMessage = (protocol: string) =>
  builtInCodecs()
    .find((c) => c.protocol === protocol)!
    .features.has('buddy-request.message');

/** What a request with `message` from `asker` looks like on arrival: the text where both protocols carry one. */
const requestAsSeen = (asker: Party, answerer: Party, message: string) =>
  carriesRequestMessage(asker.protocol) && carriesRequestMessage(answerer.protocol) ? { message } : {};

/**
 * Resolves once `check` holds; rejects naming `what` after `timeoutMs`. Polls every 10 ms at first,
 * then less often (up to 100 ms): a check may be a DHT lookup on a real network.
 */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let pause = 10;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(100, Math.ceil(pause * 1.5));
  }
}

/**
 * How long each step may wait, ms (10 s unless given): a DHT whose nodes just went away answers
 * in seconds rather than milliseconds (hyperdht waits out the requests to the nodes that left).
 */
export interface StepOptions {
  timeoutMs?: number;
}

const DEFAULT_STEP_MS = 10_000;

/** Logs in and waits until the user's gateway has published where they are. */
export async function online(user: UserDriver, g: GatewayView, o: StepOptions = {}): Promise<void> {
  await user.login();
  await until(
    async () => (await g.directory.lookupLocation(user.address))?.gateway === g.id,
    `${addressKey(user.address)} published by its gateway`,
    o.timeoutMs,
  );
}

/** Logs out and waits until the user's gateway has taken them offline. */
export async function offline(user: UserDriver, g: GatewayView, o: StepOptions = {}): Promise<void> {
  const gone = gatewayEvent(
    g,
    (e) => e.type === 'offline' && same(e.user, user.address),
    'the logout',
    o.timeoutMs,
  );
  await user.logout();
  await gone;
}

/**
 * `asker` asks to add `answerer` (with `message`), who accepts: the request arrives as `seen`
 * (its text, where the protocols carry one), the acceptance as an acceptance.
 */
export async function befriend(
  asker: UserDriver,
  answerer: UserDriver,
  message: string | undefined,
  seen: { message?: string },
  o: StepOptions = {},
) {
  await asker.addBuddy(answerer.address, message);
  expect(await answerer.nextBuddyRequest(asker.address, o.timeoutMs)).toEqual(seen);
  await answerer.answerBuddyRequest(asker.address, true);
  expect(await asker.nextBuddyResponse(answerer.address, o.timeoutMs)).toEqual({ accepted: true });
}

/** An IM each way, `TEXT` from `a` and `TEXT_BACK` from `b`, each as it arrived. */
export async function imBothWays(a: UserDriver, b: UserDriver, o: StepOptions = {}) {
  await a.sendIm(b.address, TEXT);
  expect(await b.nextIm(a.address, o.timeoutMs)).toBe(TEXT);
  await b.sendIm(a.address, TEXT_BACK);
  expect(await a.nextIm(b.address, o.timeoutMs)).toBe(TEXT_BACK);
}

/** Each one's buddy list shows the other now. */
export function listsShowEachOther(a: UserDriver, b: UserDriver) {
  expect(keysOf(a.buddies())).toContain(addressKey(b.address));
  expect(keysOf(b.buddies())).toContain(addressKey(a.address));
}

/**
 * Both users online: request (with its text, where both protocols carry one), acceptance, IMs both
 * ways and both lists showing the other, typing, presence both ways, and after logging out and in
 * again the lists and an IM.
 */
export async function walkThrough(asking: Party, answering: Party, o: StepOptions = {}) {
  const t = o.timeoutMs ?? DEFAULT_STEP_MS;
  const { user: asker, gateway: gAsk } = asking;
  const { user: answerer, gateway: gAns } = answering;
  await online(asker, gAsk, o);
  await online(answerer, gAns, o);

  const message = 'may I add you?';
  await befriend(asker, answerer, message, requestAsSeen(asking, answering, message), o);
  await imBothWays(asker, answerer, o);
  // What changed on the lists arrived before the IMs did.
  listsShowEachOther(asker, answerer);

  // Only "composing": MSN has no "stopped typing" notice.
  await asker.sendTyping(answerer.address, 'composing');
  expect(await answerer.nextTyping(asker.address, t)).toBe('composing');
  await answerer.sendTyping(asker.address, 'composing');
  expect(await asker.nextTyping(answerer.address, t)).toBe('composing');

  // Each change is confirmed delivered by the watcher's gateway after it was made, so an "online"
  // seen earlier cannot stand in for the one after "away".
  for (const [who, watcher, gWatcher] of [
    [asker, answerer, gAns],
    [answerer, asker, gAsk],
  ] as const) {
    const delivered = (status: string) =>
      gatewayEvent(
        gWatcher,
        (e) =>
          e.type === 'delivered' &&
          e.event.kind === 'presence' &&
          same(e.event.from, who.address) &&
          e.event.status === status,
        `${addressKey(who.address)} ${status} delivered to ${addressKey(watcher.address)}`,
        t,
      );
    const away = delivered('away');
    await who.setPresence('away', 'out to lunch');
    await away;
    expect(await watcher.nextPresence(who.address, 'away', t)).toBe('away');
    const back = delivered('online');
    await who.setPresence('online');
    await back;
    expect(await watcher.nextPresence(who.address, 'online', t)).toBe('online');
  }

  await offline(asker, gAsk, o);
  await offline(answerer, gAns, o);
  await online(asker, gAsk, o);
  await online(answerer, gAns, o);
  listsShowEachOther(asker, answerer);
  // Both online again, and each still reaches the other.
  await asker.sendIm(answerer.address, `${TEXT} again`);
  expect(await answerer.nextIm(asker.address, t)).toBe(`${TEXT} again`);
  await offline(asker, gAsk, o);
  await offline(answerer, gAns, o);
}

/** The answerer is offline: the request waits in the DHT until they log in, then is accepted. */
export async function offlineRequest(asking: Party, answering: Party, o: StepOptions = {}) {
  const t = o.timeoutMs ?? DEFAULT_STEP_MS;
  const { user: asker, gateway: gAsk } = asking;
  const { user: answerer, gateway: gAns } = answering;
  // The answerer has been online once (their gateway knows them) and is now logged out.
  await online(answerer, gAns, o);
  await offline(answerer, gAns, o);
  await online(asker, gAsk, o);
  const held = gatewayEvent(
    gAsk,
    (e) =>
      e.type === 'pending-held' && e.event.kind === 'buddy-request' && same(e.event.to, answerer.address),
    `the request to ${addressKey(answerer.address)} held as pending`,
    t,
  );
  await asker.addBuddy(answerer.address, 'are you there?');
  await held;
  expect(
    (await gAns.directory.pendingFor(answerer.address)).map((p) => [
      p.request.kind,
      addressKey(p.request.from),
    ]),
  ).toContainEqual(['buddy-request', addressKey(asker.address)]);
  await online(answerer, gAns, o);
  expect(await answerer.nextBuddyRequest(asker.address, t)).toEqual(
    requestAsSeen(asking, answering, 'are you there?'),
  );
  await answerer.answerBuddyRequest(asker.address, true);
  expect(await asker.nextBuddyResponse(answerer.address, t)).toEqual({ accepted: true });
  await asker.sendIm(answerer.address, TEXT);
  expect(await answerer.nextIm(asker.address, t)).toBe(TEXT);
  await offline(asker, gAsk, o);
  await offline(answerer, gAns, o);
}
