import type { CodecSet } from '../codec-modules/load.js';
import { type CliIo, write } from '../io.js';

/**
 * `crosstalk protocols`: what this build can decode, encode and proxy, with the third-party codecs
 * `--codec` loaded (each with the module it came from).
 */
export async function protocols(codecs: CodecSet, json: boolean, io: CliIo): Promise<number> {
  const list = codecs.registry.list();
  if (json) {
    const rows = list.map((c) => ({
      protocol: c.protocol,
      networks: c.networks,
      ports: c.defaultPorts,
      priority: c.priority,
      features: [...c.features],
      ...(codecs.modules.has(c.protocol) ? { module: codecs.modules.get(c.protocol) } : {}),
    }));
    await write(io.stdout, `${JSON.stringify(rows)}\n`);
    return 0;
  }
  if (list.length === 0) {
    await write(
      io.stdout,
      'No codecs are registered yet: each codec package adds itself to packages/cli/src/codecs.ts, ' +
        'and --codec loads a third-party one.\n',
    );
    return 0;
  }
  for (const c of list) {
    const module = codecs.modules.get(c.protocol);
    await write(
      io.stdout,
      `${c.protocol.padEnd(8)} networks: ${c.networks.join(', ')}; ports: ${c.defaultPorts.join(', ') || '-'}` +
        `${module === undefined ? '' : `  (from ${module})`}\n` +
        `${' '.repeat(8)} features: ${[...c.features].join(', ')}\n`,
    );
  }
  return 0;
}
