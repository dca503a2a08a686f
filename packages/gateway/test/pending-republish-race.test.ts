import { type Dht, MemoryDht, parseAddress } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { Directory, generateIdentity } from '../src/index.js';
import type { NodeCore } from '../src/node/core.js';
import { PendingRequests } from '../src/node/pending/pending-requests.js';
import type { ForeignRoster } from '../src/node/roster/foreign-roster.js';
import { StateStore } from '../src/store/state-store.js';

/**
 * A held request is re-signed in place every few hours (and after a DHT outage); if it is released
 * while its re-signed copy is on its way to the DHT (its answer came, or a try delivered it), that
 * copy must not stay behind: the recipient would be shown an answered request again at a login.
 */
describe('a held request released while it is being republished', () => {
  it('leaves nothing held in the directory or in hard state', async () => {
    const memory = new MemoryDht();
    const alice = parseAddress('alice@aol');
    const bob = parseAddress('bob@yahoo');
    const key = Directory.pendingKey(bob);
    // Re-puts of bob's held requests wait for `open` while `gated`.
    let gated = false;
    let open!: () => void;
    const opened = new Promise<void>((r) => {
      open = r;
    });
    let putStarted!: () => void;
    const started = new Promise<void>((r) => {
      putStarted = r;
    });
    const dht: Dht = {
      limits: memory.limits,
      ...(memory.slots ? { slots: memory.slots } : {}),
      put: async (k, value, options) => {
        if (gated && k === key) {
          putStarted();
          await opened;
        }
        return memory.put(k, value, options);
      },
      get: (k) => memory.get(k),
      remove: (k, value, secret) => memory.remove(k, value, secret),
      close: async () => {},
    };
    const log = { info() {}, warn() {}, debug() {}, error() {} };
    const core = {
      directory: new Directory({ dht, identity: generateIdentity() }),
      store: await StateStore.open(),
      log,
      emit() {},
      track() {},
      closing: false,
    } as unknown as NodeCore;
    const roster = { set: async () => {} } as unknown as ForeignRoster;
    const pending = new PendingRequests(core, roster);

    await pending.hold({ kind: 'buddy-request', id: 'r1', from: alice, to: bob, message: 'hi' });
    expect(await memory.get(key)).toHaveLength(1);

    gated = true;
    const republished = pending.republish();
    await started;
    // Bob added alice himself meanwhile: his answer releases the request while its copy is in flight.
    await pending.recordAnswer({ kind: 'buddy-response', from: bob, to: alice, accepted: true });
    open();
    expect(await republished).toBeUndefined();

    expect(core.store.state.pending).toEqual([]);
    expect(await memory.get(key)).toEqual([]);
  });
});
