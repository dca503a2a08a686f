import { describe, it } from 'vitest';
import { type TransportSuiteOptions, transportChecks } from './transport-checks.js';

/** Registers the G2G transport compliance checks as vitest tests. */
export function transportSuite(options: TransportSuiteOptions): void {
  describe(`transport compliance: ${options.name}`, () => {
    for (const check of transportChecks(options)) it(check.name, () => check.run(), 120_000);
  });
}
