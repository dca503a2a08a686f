import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The real traffic every codec is tested against (fixtures/captures at the repository root: two
 * packet captures and the byte-exact sessions recorded against Escargot and Open OSCAR Server; see
 * its README). Found by walking up from this file, so it works from src/ and from dist/.
 */
function findCaptures(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'fixtures', 'captures');
    if (existsSync(join(candidate, 'README.md'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(
    'fixtures/captures not found above @crosstalk/compliance (it ships with the repository, not the package)',
  );
}

let cached: string | undefined;

/** Absolute path of a capture file, e.g. `capturePath('transcripts/ymsg10_escargot.jsonl')`. */
export function capturePath(name = ''): string {
  cached ??= findCaptures();
  return join(cached, name);
}
