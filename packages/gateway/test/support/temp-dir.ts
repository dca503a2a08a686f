import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/**
 * A fresh directory `crosstalk-<prefix>-…` under the system's temporary one, removed when the
 * calling test ends (after its `afterEach` hooks, so what they close is closed); a removal that
 * fails is not the test's failure. Only from inside a test.
 */
export async function testDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `crosstalk-${prefix}-`));
  onTestFinished(() => rm(dir, { recursive: true, force: true }).catch(() => {}));
  return dir;
}
