import { MemoryDht } from '@crosstalk/core';
import type { Gateway } from '@crosstalk/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkFixture, UserDriver } from '../src/drivers/index.js';
import { startOscarNetwork } from '../src/drivers/index.js';
import { type MsnpUserDriver, msnpNetwork } from '../src/drivers/msnp.js';
import { online, startGateway, through, until } from './support/walkthrough.js';

/**
 * Issue 20 (descriptors): a conversation the gateway plays itself (an MSN user with a foreign
 * buddy) that stays quiet is ended as an MSN server ends an idle switchboard: `BYE buddy 1`, then
 * the connection closes; the next message either way opens a new one (`RNG` for the buddy's,
 * `XFR` for the user's). Real sockets; the idle time is short here (300 ms, the default is 5
 * minutes) and the waits for the close are generous bounds on a condition, not timings.
 */
let gateway: Gateway;
let msn: NetworkFixture;
let aim: NetworkFixture;
const used: UserDriver[] = [];

beforeAll(async () => {
  gateway = await startGateway(new MemoryDht(), { timeouts: { idleConversation: 300 } });
  msn = await msnpNetwork()([{ name: 'muser0@example.com', password: 'pw-muser0' }]);
  aim = await startOscarNetwork([{ name: 'aimuser0', password: 'pw-aimuser0' }]);
}, 60_000);

afterAll(async () => {
  for (const d of used.splice(0)) await d.disconnect().catch(() => {});
  await gateway?.close();
  for (const f of [msn, aim]) await f?.stop();
});

function use<T extends UserDriver>(d: T): T {
  used.push(d);
  return d;
}

const text = (chunks: readonly Uint8Array[]) => Buffer.concat(chunks).toString('utf8');

describe('an idle conversation with a foreign buddy', () => {
  it('is ended with BYE buddy 1 and its connection closed; the next messages open new ones', async () => {
    const user = use(msn.driver('muser0@example.com', through(gateway))) as MsnpUserDriver;
    const buddy = use(aim.driver('aimuser0', through(gateway)));
    await online(user, gateway);
    await online(buddy, gateway);
    const switchboards = () =>
      user.clients
        .flatMap((c) => c.opened)
        .filter((c) => c.written.length > 0 && !text(c.written.slice(0, 1)).startsWith('VER'));

    // The buddy writes first: the user is rung into a switchboard the gateway plays, and answers there.
    await buddy.sendIm(user.address, 'one');
    expect(await user.nextIm(buddy.address)).toBe('one');
    await user.sendIm(buddy.address, 'two');
    expect(await buddy.nextIm(user.address)).toBe('two');
    const first = switchboards();
    expect(first.length).toBeGreaterThan(0);

    await until(() => first.every((c) => c.closed), 'the idle switchboard closed', 15_000);
    for (const c of first) expect(text(c.received)).toMatch(/\r\nBYE aimuser0@\S+ 1\r\n$/);
    // The notification connection stays.
    expect(user.clients.flatMap((c) => c.opened).some((c) => !c.closed)).toBe(true);

    // The user writes first now: a switchboard of the real server (`XFR`), which the gateway leaves
    // once only the buddy is in it, then plays alone; quiet, it ends the same way.
    await user.sendIm(buddy.address, 'three');
    expect(await buddy.nextIm(user.address)).toBe('three');
    const second = switchboards().filter((c) => !first.includes(c));
    expect(second.length).toBe(1);
    await until(() => second.every((c) => c.closed), 'the second idle switchboard closed', 15_000);
    expect(text(second[0]!.received)).toMatch(/\r\nBYE aimuser0@\S+ 1\r\n$/);

    // Messages either way still arrive, each on a switchboard opened anew.
    await buddy.sendIm(user.address, 'four');
    expect(await user.nextIm(buddy.address)).toBe('four');
    await user.sendIm(buddy.address, 'five');
    expect(await buddy.nextIm(user.address)).toBe('five');
    expect(switchboards().length).toBeGreaterThan(first.length + second.length);
  }, 60_000);
});
