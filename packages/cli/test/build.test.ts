import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('npm run build', () => {
  it('builds nothing when no package changed since the last build (npm test built them first)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['scripts/build.mjs', '--check'], {
      cwd: root,
    });
    expect(stdout).toMatch(/build: everything is up to date/);
    expect(stdout).not.toMatch(/is stale/);
  });
});
