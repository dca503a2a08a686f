import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Address, addressKey } from '@crosstalk/core';

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
