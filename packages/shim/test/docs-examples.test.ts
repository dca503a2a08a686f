import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The programs docs/client-api.md and the package README show (the ```ts blocks marked
 * `readme-check: run`), run as they are written, as a reader would: with tsx, importing
 * `@crosstalk/shim` as a dependant does (here resolved to its sources). `npm run check:readme` runs
 * them on a fresh clone against the build.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

async function programs(file: string): Promise<string[]> {
  const text = await readFile(join(root, file), 'utf8');
  return [...text.matchAll(/<!-- readme-check: run -->\n```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

async function run(source: string, name: string): Promise<string> {
  // In the repository, so that `@crosstalk/*` resolve through its node_modules.
  const path = join(root, `packages/shim/test/.${name}.mts`);
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

describe('the documented programs run', () => {
  it('docs/client-api.md: a new client in 30 lines', async () => {
    const [program] = await programs('docs/client-api.md');
    expect(program!.split('\n').filter((l) => l.trim() !== '').length).toBeLessThanOrEqual(32);
    const out = await run(program!, 'client-api-example');
    expect(out).toContain('request delivered');
    expect(out).toContain('accepted true');
    expect(out).toContain('you said: Grüße! 👋');
    expect(out).toMatch(/bytes: 10/);
    expect(out).toMatch(/subscription: 'both'/);
  });

  it('packages/shim/README.md', async () => {
    for (const [i, program] of (await programs('packages/shim/README.md')).entries())
      await run(program, `readme-example-${i}`);
  });
});
