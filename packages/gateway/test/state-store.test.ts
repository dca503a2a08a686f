import { generateKeyPairSync } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { isCrossTalkError } from '@crosstalk/core';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createGateway, generateIdentity, StateStore } from '../src/index.js';
import { testDir } from './support/temp-dir.js';

describe('hard-state store', () => {
  it('persists atomically and reads back after a restart', async () => {
    const dir = await testDir('state');
    const path = join(dir, 'nested', 'state.json');
    const store = await StateStore.open(path);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.update((s) => {
          s.users[`u${i}@aol`] = {
            foreignBuddies: [{ address: 'bob@yahoo', groups: [], subscription: 'both', pending: false }],
          };
        }),
      ),
    );
    const again = await StateStore.open(path);
    expect(Object.keys(again.state.users)).toHaveLength(20);
    expect(await readdir(join(dir, 'nested'))).toEqual(['state.json']);
    expect(JSON.parse(await readFile(path, 'utf8')).version).toBe(1);
  });

  it('refuses a corrupt or foreign state file with a typed error naming the file', async () => {
    const dir = await testDir('state');
    for (const content of ['{not json', '{"version":2}']) {
      const path = join(dir, 'state.json');
      await writeFile(path, content);
      const error = await StateStore.open(path).catch((e) => e);
      expect(isCrossTalkError(error, 'ERR_INVALID_STATE_FILE')).toBe(true);
      expect(error.path).toBe(path);
      expect(error.message).toContain(path);
    }
  });

  it('removes the temporary files of interrupted writes on open, and only its own', async () => {
    const dir = await testDir('state');
    const path = join(dir, 'state.json');
    await writeFile(path, JSON.stringify({ version: 1, users: {}, pending: [], delivered: ['kept'] }));
    const stale = ['state.json.0badc0de.tmp', 'state.json.12345678.tmp'];
    const others = ['state.json.notours.tmp', 'other.json.12345678.tmp', 'state.json.1234567.tmp'];
    for (const name of [...stale, ...others]) await writeFile(join(dir, name), '{"half":');
    const store = await StateStore.open(path);
    expect(store.state.delivered).toEqual(['kept']);
    expect(store.removedTemporaries.map((f) => f.slice(dir.length + 1)).sort()).toEqual(stale);
    expect((await readdir(dir)).sort()).toEqual([...others, 'state.json'].sort());
  });

  it('a failed write fails its own update only: the next one writes everything', async () => {
    const dir = await testDir('state');
    const path = join(dir, 'sub', 'state.json');
    const store = await StateStore.open(path);
    await writeFile(join(dir, 'sub'), 'a file where the directory should be');
    const failed = await store
      .update((s) => {
        s.delivered.push('first');
      })
      .catch((e) => e);
    expect(failed).toBeInstanceOf(Error);
    await rm(join(dir, 'sub'));
    await store.update((s) => {
      s.delivered.push('second');
    });
    expect((await StateStore.open(path)).state.delivered).toEqual(['first', 'second']);
  });

  it('moves unreadable held requests and buddies to a quarantine file instead of dropping them', async () => {
    const dir = await testDir('state');
    const path = join(dir, 'state.json');
    const goodRequest = {
      request: { kind: 'buddy-request', id: 'r1', from: 'alice@yahoo', to: 'bob@aol', sentAt: 1 },
      value: 'abcd',
    };
    const badRequest = { request: { kind: 'buddy-request', from: 'nobody' }, value: 'abcd' };
    const heldIm = {
      request: { kind: 'im', id: 'i1', from: 'alice@yahoo', to: 'bob@aol', text: 'x', sentAt: 1 },
      value: '00',
    };
    const goodBuddy = { address: 'bob@aol', groups: [], subscription: 'both', pending: false };
    const badBuddy = { address: 'no network here', groups: [], subscription: 'both', pending: false };
    const odd = { address: 'carol@aol' };
    await writeFile(
      path,
      JSON.stringify({
        version: 1,
        users: { 'alice@yahoo': { foreignBuddies: [goodBuddy, badBuddy, odd] } },
        pending: [goodRequest, badRequest, heldIm],
        delivered: [],
      }),
    );
    const store = await StateStore.open(path);
    expect(store.state.pending).toEqual([goodRequest]);
    expect(store.state.users['alice@yahoo']!.foreignBuddies).toEqual([goodBuddy]);
    expect(store.quarantinePath).toBe(`${path}.quarantine.jsonl`);
    const lines = (await readFile(`${path}.quarantine.jsonl`, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.what, l.entry])).toEqual([
      ['foreign-buddy', badBuddy],
      ['foreign-buddy', odd],
      ['held-request', badRequest],
      ['held-request', heldIm],
    ]);
    expect(lines[0].owner).toBe('alice@yahoo');
    expect(lines.every((l) => typeof l.reason === 'string' && l.reason.length > 0)).toBe(true);
    // The state file no longer holds them, so the next open quarantines nothing twice.
    const again = await StateStore.open(path);
    expect(again.quarantined).toEqual([]);
    expect((await readFile(`${path}.quarantine.jsonl`, 'utf8')).trim().split('\n')).toHaveLength(4);
  });

  it('keeps state in memory when no file is given', async () => {
    const store = await StateStore.open();
    await store.update((s) => {
      s.delivered.push('x');
    });
    expect(store.state.delivered).toEqual(['x']);
  });
});

describe('a gateway on a damaged state file', () => {
  const capture = () => {
    const logs: { msg: string; [k: string]: unknown }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
        done();
      },
    });
    return { logs, logger: pino({ level: 'info' }, sink) };
  };

  it('refuses a corrupt identity key with a typed error naming the file', async () => {
    const dir = await testDir('state');
    const path = join(dir, 'state.json');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString();
    // A truncated ed25519 key (a torn write of the identity), and an RSA key.
    const valid = generateIdentity().exportPrivateKey();
    for (const identity of ['not a key', valid.replace(/\n[^-]+\n/, '\nMC4CAQAwBQYDK2VwBCIEIA==\n'), rsa]) {
      await writeFile(path, JSON.stringify({ version: 1, identity, users: {}, pending: [], delivered: [] }));
      const error = await createGateway({
        codecs: [],
        stateFile: path,
        socks: { port: 0 },
        logger: false,
      }).catch((e) => e);
      expect(isCrossTalkError(error, 'ERR_INVALID_IDENTITY_KEY')).toBe(true);
      expect(error.message).toContain(path);
    }
  });

  it('keeps unreadable entries in quarantine, says where, and keeps everything readable', async () => {
    const dir = await testDir('state');
    const path = join(dir, 'state.json');
    const bad = { request: { kind: 'buddy-request' }, value: 'zz' };
    const buddy = { address: 'bob@aol', groups: [], subscription: 'to', pending: false };
    await writeFile(
      path,
      JSON.stringify({
        version: 1,
        users: { 'alice@yahoo': { foreignBuddies: [buddy, { ...buddy, address: '@@' }] } },
        pending: [bad],
        delivered: [],
      }),
    );
    await writeFile(`${path}.cafebabe.tmp`, '{');
    const { logs, logger } = capture();
    const g = await createGateway({ codecs: [], stateFile: path, socks: { port: 0 }, logger });
    expect(g.foreignBuddies({ user: 'alice', network: 'yahoo' }).map((b) => b.address)).toEqual([
      { user: 'bob', network: 'aol' },
    ]);
    await g.close();
    const quarantined = logs.filter(
      (l) => l.msg === 'moved an unreadable state entry to the quarantine file',
    );
    expect(quarantined.map((l) => [l.what, l.quarantine])).toEqual([
      ['foreign-buddy', `${path}.quarantine.jsonl`],
      ['held-request', `${path}.quarantine.jsonl`],
    ]);
    expect(logs.some((l) => l.msg === 'removed the temporary file of an interrupted state write')).toBe(true);
    const kept = (await readFile(`${path}.quarantine.jsonl`, 'utf8')).trim().split('\n');
    expect(kept.map((l) => JSON.parse(l).entry)).toEqual([{ ...buddy, address: '@@' }, bad]);
    expect(await readdir(dir)).not.toContain(`state.json.cafebabe.tmp`);
  });
});

describe('home times', () => {
  it('a user’s home time survives a reopen', async () => {
    const path = join(await testDir('home'), 'state.json');
    const store = await StateStore.open(path);
    await store.update((s) => {
      s.users['alice@aol'] = { foreignBuddies: [], home: 1234 };
    });
    expect((await StateStore.open(path)).state.users['alice@aol']?.home).toBe(1234);
  });
});
