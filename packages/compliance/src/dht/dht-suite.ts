import { describe, it } from 'vitest';
import { type DhtSuiteOptions, dhtChecks } from './dht-checks.js';

/** Registers the DHT compliance checks as vitest tests. */
export function dhtSuite(options: DhtSuiteOptions): void {
  describe(`dht compliance: ${options.name}`, () => {
    for (const check of dhtChecks(options)) it(check.name, () => check.run());
  });
}
