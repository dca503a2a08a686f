import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCrossTalkError } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { StateStore } from '../src/index.js';

describe('hard-state store', () => {
  it('persists atomically and reads back after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crosstalk-state-'));
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

  it('refuses a corrupt or foreign state file with a typed error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crosstalk-state-'));
    for (const content of ['{not json', '{"version":2}']) {
      const path = join(dir, 'state.json');
      await writeFile(path, content);
      const error = await StateStore.open(path).catch((e) => e);
      expect(isCrossTalkError(error, 'ERR_INVALID_CONFIG')).toBe(true);
    }
  });

  it('keeps state in memory when no file is given', async () => {
    const store = await StateStore.open();
    await store.update((s) => {
      s.delivered.push('x');
    });
    expect(store.state.delivered).toEqual(['x']);
  });
});
