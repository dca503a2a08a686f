import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The program docs/shim.md shows ("Writing a base-client adapter", the ```ts block marked
 * `readme-check: run`), run as written with tsx, importing `@crosstalk/shim` as a dependant does.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

async function run(source: string): Promise<string> {
  // In the repository, so that `@crosstalk/*` resolve through its node_modules.
  const path = join(root, 'packages/shim/test/.shim-docs-example.mts');
  await writeFile(path, source);
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@crosstalk/source', path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
    return out;
  } finally {
    await rm(path, { force: true });
  }
}

describe('docs/shim.md', () => {
  it('the smallest base-client adapter runs, routes by reaches() and drops what its network cannot say', async () => {
    const text = await readFile(join(root, 'docs/shim.md'), 'utf8');
    const programs = [...text.matchAll(/<!-- readme-check: run -->\n```ts\n([\s\S]*?)```/g)].map(
      (m) => m[1]!,
    );
    expect(programs).toHaveLength(1);
    const out = await run(programs[0]!);
    expect(out).toContain(`[ 'carol got "hi carol"' ]`);
    expect(out).toContain('bob hears hi bob');
    expect(out).toContain('alice hears carol@example.org: hello!');
    expect(out).not.toContain('spoofed');
  });
});
