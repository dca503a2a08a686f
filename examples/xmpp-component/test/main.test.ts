import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The program the README shows (`npm start -w examples/xmpp-component`, against the built packages:
// `npm test` builds first), run as a newcomer would, so that it cannot rot unnoticed.

const root = fileURLToPath(new URL('../../..', import.meta.url));
const here = fileURLToPath(new URL('..', import.meta.url));

describe('npm start -w examples/xmpp-component', () => {
  it('is the command the README shows', () => {
    expect(readFileSync(`${here}README.md`, 'utf8')).toContain('npm start -w examples/xmpp-component');
  });

  it('starts prosody with TLS required and the component, and an XMPP and an AIM user talk', async () => {
    const { stdout } = await promisify(execFile)(
      'npm',
      ['start', '--silent', '-w', 'examples/xmpp-component'],
      {
        cwd: root,
        timeout: 90_000,
        maxBuffer: 4 * 1024 * 1024,
      },
    );
    for (const line of [
      /^carol@localhost is online over TLS: true$/m,
      /^alice@aol is asked: \{ message: 'Hi, Carol here' \}$/m,
      /^carol@localhost: alice%aol@crosstalk\.localhost approved$/m,
      /^carol@localhost is asked by alice%aol@crosstalk\.localhost: Hi Carol, Alice from AIM$/m,
      /^alice@aol hears back: \{ accepted: true \}$/m,
      /^alice@aol receives: Grüße aus XMPP, ça va\? 你好$/m,
      /^carol@localhost receives: Привет from AIM ✓$/m,
      /^carol@localhost sees alice%aol@crosstalk\.localhost: away \(out for lunch\)$/m,
      /^alice@aol sees carol@localhost: offline$/m,
    ])
      expect(stdout).toMatch(line);
  }, 120_000);
});
