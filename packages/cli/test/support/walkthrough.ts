import { stanza } from '@crosstalk/codec-xmpp';
import { type Address, addressKey, type MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway, type GatewayEvent } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { expect } from 'vitest';
import { builtInCodecs } from '../../src/codecs.js';
import type { Dial, UserDriver } from '../../src/drivers/index.js';

/**
 * The paper's walk-through (Motoyama & Varghese, §3.2) as reusable steps for the end-to-end tests:
 * real gateways, real sockets on 127.0.0.1, clients that reach their server only through their
 * gateway's SOCKS port.
 */
export const TEXT = 'héllo wörld ✓';
export const TEXT_BACK = 'and back: ünïcödé ✓ 日本語';

export const startGateway = (dht: MemoryDht): Promise<Gateway> =>
  createGateway({ codecs: builtInCodecs(), dht, canonical: stanza, socks: { port: 0 }, logger: false });

export const through =
  (g: Gateway): Dial =>
  (host, port) =>
    socksConnect(g.socks, host, port);

export const keysOf = (list: Address[]) => list.map(addressKey);
export const same = (a: Address, b: Address) => addressKey(a) === addressKey(b);

/** The first gateway event that matches, from now on; rejects naming `what` after `timeoutMs`. */
export function gatewayEvent(
  g: Gateway,
  match: (e: GatewayEvent) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<GatewayEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for the gateway to report ${what}`));
    }, timeoutMs);
    timer.unref();
    const off = g.on((e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/** Resolves once `check` holds; rejects naming `what` after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Logs in and waits until the user's gateway has published where they are. */
export async function online(user: UserDriver, g: Gateway): Promise<void> {
  await user.login();
  await until(
    async () => (await g.directory.lookupLocation(user.address))?.gateway === g.id,
    `${addressKey(user.address)} published by its gateway`,
  );
}

/** Logs out and waits until the user's gateway has taken them offline. */
export async function offline(user: UserDriver, g: Gateway): Promise<void> {
  const gone = gatewayEvent(g, (e) => e.type === 'offline' && same(e.user, user.address), 'the logout');
  await user.logout();
  await gone;
}

/** Both users online: request, acceptance, IMs both ways, typing, presence, lists after re-login. */
export async function walkThrough(asker: UserDriver, gAsk: Gateway, answerer: UserDriver, gAns: Gateway) {
  await online(asker, gAsk);
  await online(answerer, gAns);

  await asker.addBuddy(answerer.address);
  await answerer.nextBuddyRequest(asker.address);
  await answerer.answerBuddyRequest(asker.address, true);
  expect(await asker.nextBuddyResponse(answerer.address)).toEqual({ accepted: true });

  await asker.sendIm(answerer.address, TEXT);
  expect(await answerer.nextIm(asker.address)).toBe(TEXT);
  await answerer.sendIm(asker.address, TEXT_BACK);
  expect(await asker.nextIm(answerer.address)).toBe(TEXT_BACK);

  // Only "composing": MSN has no "stopped typing" notice.
  await asker.sendTyping(answerer.address, 'composing');
  expect(await answerer.nextTyping(asker.address)).toBe('composing');
  await answerer.sendTyping(asker.address, 'composing');
  expect(await asker.nextTyping(answerer.address)).toBe('composing');

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
      );
    const away = delivered('away');
    await who.setPresence('away', 'out to lunch');
    await away;
    expect(await watcher.nextPresence(who.address, 'away')).toBe('away');
    const back = delivered('online');
    await who.setPresence('online');
    await back;
    expect(await watcher.nextPresence(who.address, 'online')).toBe('online');
  }

  await offline(asker, gAsk);
  await offline(answerer, gAns);
  await online(asker, gAsk);
  await online(answerer, gAns);
  await until(
    () => keysOf(asker.buddies()).includes(addressKey(answerer.address)),
    'the asker’s list after re-login',
  );
  await until(
    () => keysOf(answerer.buddies()).includes(addressKey(asker.address)),
    'the answerer’s list after re-login',
  );
  await offline(asker, gAsk);
  await offline(answerer, gAns);
}

/** The answerer is offline: the request waits in the DHT until they log in, then is accepted. */
export async function offlineRequest(asker: UserDriver, gAsk: Gateway, answerer: UserDriver, gAns: Gateway) {
  await online(answerer, gAns);
  await offline(answerer, gAns);
  await online(asker, gAsk);
  const held = gatewayEvent(
    gAsk,
    (e) =>
      e.type === 'pending-held' && e.event.kind === 'buddy-request' && same(e.event.to, answerer.address),
    `the request to ${addressKey(answerer.address)} held as pending`,
  );
  await asker.addBuddy(answerer.address);
  await held;
  expect(
    (await gAns.directory.pendingFor(answerer.address)).map((p) => [
      p.request.kind,
      addressKey(p.request.from),
    ]),
  ).toContainEqual(['buddy-request', addressKey(asker.address)]);
  await online(answerer, gAns);
  await answerer.nextBuddyRequest(asker.address);
  await answerer.answerBuddyRequest(asker.address, true);
  expect(await asker.nextBuddyResponse(answerer.address)).toEqual({ accepted: true });
  await asker.sendIm(answerer.address, TEXT);
  expect(await answerer.nextIm(asker.address)).toBe(TEXT);
  await offline(asker, gAsk);
  await offline(answerer, gAns);
}
