import { readdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parseAddress } from '@crosstalk/core';
import { identityFromPem } from '../g2g/identity.js';
import { type HardState, StateStore } from '../store/state-store.js';
import { workerOf } from './steering.js';

/**
 * The state file of worker `index` of a host of `count` workers: worker 0 keeps the configured
 * file (a host that had one process keeps its key and its users there), worker N > 0 uses
 * `<name>.wN<ext>` beside it.
 */
export function workerStateFile(path: string, index: number): string {
  if (index === 0) return path;
  const ext = extname(path);
  return join(dirname(path), `${basename(path, ext)}.w${index}${ext}`);
}

/** The worker state files beside `path` that exist (any index, also past the worker count). */
async function existingWorkerFiles(path: string): Promise<Map<number, string>> {
  const ext = extname(path);
  const stem = basename(path, ext);
  const files = new Map<number, string>([[0, path]]);
  let names: string[] = [];
  try {
    names = await readdir(dirname(path));
  } catch {
    return files; // no directory yet: nothing to move
  }
  const pattern = new RegExp(
    `^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.w(\\d+)${ext.replace('.', '\\.')}$`,
  );
  for (const name of names) {
    const m = pattern.exec(name);
    if (m) files.set(Number(m[1]), join(dirname(path), name));
  }
  return files;
}

/**
 * Before a host of `count` workers starts: every user's entries (foreign buddies, home record,
 * plugin choices and stores) are moved to the state file of the worker that serves them now
 * (`workerOf`), from whichever worker file holds them (the host may have run with another worker
 * count, or with one process). Each file's key is checked here, so a bad one stops the start with
 * the file named. Held requests stay with the worker that published them. Returns how many users
 * moved.
 */
export async function partitionStateFiles(path: string, count: number): Promise<number> {
  const files = await existingWorkerFiles(path);
  for (let i = 0; i < count; i++) if (!files.has(i)) files.set(i, workerStateFile(path, i));
  const stores = new Map<number, StateStore>();
  for (const [index, file] of files) {
    const store = await StateStore.open(file);
    const pem = store.state.identity;
    if (pem) identityFromPem(pem, file);
    stores.set(index, store);
  }
  const moves = new Map<number, ((s: HardState) => void)[]>();
  const removals = new Map<number, ((s: HardState) => void)[]>();
  const add = (m: Map<number, ((s: HardState) => void)[]>, i: number, f: (s: HardState) => void) =>
    m.set(i, [...(m.get(i) ?? []), f]);
  let moved = 0;
  for (const [index, store] of stores) {
    const state = store.state;
    const keys = new Set([
      ...Object.keys(state.users),
      ...Object.keys(state.plugins?.enabled ?? {}),
      ...Object.values(state.plugins?.stores ?? {}).flatMap((byUser) => Object.keys(byUser)),
    ]);
    for (const key of keys) {
      let owner: number;
      try {
        owner = workerOf(parseAddress(key), count);
      } catch {
        continue; // not an address: left where it is
      }
      if (owner === index) continue;
      moved++;
      const user = state.users[key];
      const enabled = state.plugins?.enabled[key];
      const stored = Object.entries(state.plugins?.stores ?? {})
        .filter(([, byUser]) => byUser[key] !== undefined)
        .map(([plugin, byUser]) => [plugin, byUser[key]!] as const);
      add(moves, owner, (s) => {
        if (user) s.users[key] = { ...user, ...s.users[key] };
        if (enabled || stored.length) s.plugins ??= { enabled: {}, stores: {} };
        if (enabled) s.plugins!.enabled[key] = { ...enabled, ...s.plugins!.enabled[key] };
        for (const [plugin, values] of stored) {
          s.plugins!.stores[plugin] ??= {};
          s.plugins!.stores[plugin]![key] = { ...values, ...s.plugins!.stores[plugin]![key] };
        }
      });
      add(removals, index, (s) => {
        delete s.users[key];
        if (s.plugins) {
          delete s.plugins.enabled[key];
          for (const byUser of Object.values(s.plugins.stores)) delete byUser[key];
        }
      });
    }
  }
  // Written to their new files before they leave the old ones: a crash in between leaves a user
  // in both (the old copy is moved again next time), never in neither.
  const apply = (changes: ((s: HardState) => void)[]) => (s: HardState) => {
    for (const change of changes) change(s);
  };
  for (const [index, changes] of moves) await stores.get(index)!.update(apply(changes));
  for (const [index, changes] of removals) await stores.get(index)!.update(apply(changes));
  for (const store of stores.values()) await store.flush();
  return moved;
}
