import type { CodecRegistry } from '@crosstalk/core';
import { type CliIo, write } from '../io.js';

/** `crosstalk protocols`: what this build can decode, encode and proxy. */
export async function protocols(registry: CodecRegistry, json: boolean, io: CliIo): Promise<number> {
  const codecs = registry.list();
  if (json) {
    const rows = codecs.map((c) => ({
      protocol: c.protocol,
      networks: c.networks,
      ports: c.defaultPorts,
      priority: c.priority,
      features: [...c.features],
    }));
    await write(io.stdout, `${JSON.stringify(rows)}\n`);
    return 0;
  }
  if (codecs.length === 0) {
    await write(
      io.stdout,
      'No codecs are registered yet: each codec package adds itself to packages/cli/src/codecs.ts.\n',
    );
    return 0;
  }
  for (const c of codecs) {
    await write(
      io.stdout,
      `${c.protocol.padEnd(8)} networks: ${c.networks.join(', ')}; ports: ${c.defaultPorts.join(', ') || '-'}\n` +
        `${' '.repeat(8)} features: ${[...c.features].join(', ')}\n`,
    );
  }
  return 0;
}
