import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Address, addressKey } from '@crosstalk/core';

/** The directories `stateWithBuddies` made in this test file, for `removeStateFiles`. */
const made: string[] = [];

/** Removes every state file `stateWithBuddies` made (from an `afterAll`, once its nodes are closed). */
export async function removeStateFiles(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true }).catch(() => {})));
}

/**
 * A node's state file (in a fresh temporary directory named after `prefix`) in which `user` already
 * has `buddies` as foreign buddies (subscribed both ways unless told): what a node has after they
 * became buddies.
 */
export async function stateWithBuddies(
  prefix: string,
  user: Address,
  buddies: readonly Address[],
  subscription: 'to' | 'from' | 'both' = 'both',
): Promise<string> {
  const stateFile = join(await mkdtemp(join(tmpdir(), `crosstalk-${prefix}-`)), 'state.json');
  made.push(dirname(stateFile));
  const foreignBuddies = buddies.map((b) => ({
    address: addressKey(b),
    groups: [],
    subscription,
    pending: false,
  }));
  await writeFile(
    stateFile,
    JSON.stringify({
      version: 1,
      users: { [addressKey(user)]: { foreignBuddies } },
      pending: [],
      delivered: [],
    }),
  );
  return stateFile;
}
