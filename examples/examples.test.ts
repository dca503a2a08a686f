import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Every example runs as its README says (`npm start -w examples/NAME` from the repository root,
// against the built packages: `npm test` builds first), so an example that rots fails CI.

const root = fileURLToPath(new URL('..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));

/** What each example must print (one line each), besides exiting 0. */
const EXPECTED: Record<string, RegExp[]> = {
  'two-networks': [
    /^bob@yahoo is asked: \{ message: 'Hi Bob, it is Alice from AIM' \}$/m,
    /^alice@aol hears back: \{ accepted: true \}$/m,
    /^bob@yahoo receives: Hello from AIM!$/m,
    /^alice@aol receives: Hello from Yahoo!$/m,
  ],
  'plugin-location': [
    /^ {2}location is on: buddies who send you \/location get an answer\.$/m,
    /^alice asks bob \/location, and gets: bob is in San Diego \(La Jolla\), California, United States\.$/m,
    /^alice asks bob \/location, and gets: bob is in Santa Monica\.$/m,
    /^alice asks bob \/location, and gets: bob does not share their location\.$/m,
  ],
  'plugin-music': [
    /^alice asks bob \/music, and gets: bob is listening to The Testers – Loopback Blues \(127\.0\.0\.1\)\.$/m,
    /^alice asks bob \/music, and gets: bob is listening to Sine Wave Quartet – 440 Hz\.$/m,
    /^alice asks bob \/music, and gets: bob is not listening to anything\.$/m,
  ],
  'plugin-dice': [
    /^bob@yahoo sees alice ask: \/dice 2d6$/m,
    /^alice@aol gets, from bob: bob rolls [1-6] \+ [1-6] = \d+$/m,
    /^alice@aol gets, from bob: bob rolls \d+ = \d+ \(last roll: \d+\)$/m,
  ],
};

const folders = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'node_modules')
  .map((d) => d.name)
  .sort();
// An example with tests of its own (examples/codec-irc) is run by them (vitest.config.ts includes
// examples/*/test); the others are programs run here as their READMEs say.
const tested = folders.filter((name) => existsSync(join(here, name, 'test')));
const examples = folders.filter((name) => !tested.includes(name));

describe('examples', () => {
  it('each example folder has its expectations here, and is a workspace', () => {
    expect(examples).toEqual(Object.keys(EXPECTED).sort());
    const workspaces: string[] = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
    for (const name of folders) expect(workspaces).toContain(`examples/${name}`);
  });

  for (const name of examples) {
    describe(name, () => {
      const dir = join(here, name);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

      it('its README shows the command that runs it', () => {
        const readme = readFileSync(join(dir, 'README.md'), 'utf8');
        expect(readme).toContain(`npm start -w examples/${name}`);
      });

      it('imports only public entry points of packages it declares', () => {
        const declared = new Set(Object.keys(manifest.dependencies ?? {}));
        for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
          const source = readFileSync(join(dir, file), 'utf8');
          for (const [, specifier] of source.matchAll(/from '([^']+)'/g)) {
            if (specifier!.startsWith('.') || specifier!.startsWith('node:')) continue;
            const pkg = specifier!.startsWith('@')
              ? specifier!.split('/').slice(0, 2).join('/')
              : specifier!.split('/')[0]!;
            expect(declared, `${name}/${file} imports ${specifier}`).toContain(pkg);
            expect(specifier, `${name}/${file}`).not.toMatch(/\/(src|dist|internal)(\/|$)/);
          }
        }
      });

      it('runs as its README says, prints what it shows, and exits 0', async () => {
        const { stdout } = await promisify(execFile)('npm', ['start', '--silent', '-w', `examples/${name}`], {
          cwd: root,
          timeout: 90_000,
          maxBuffer: 4 * 1024 * 1024,
        });
        for (const line of EXPECTED[name]!) expect(stdout).toMatch(line);
      }, 120_000);
    });
  }

  it('the plugin template is under 30 lines', () => {
    const lines = readFileSync(join(here, 'plugin-dice', 'dice.ts'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(lines.length).toBeLessThan(30);
  });
});
