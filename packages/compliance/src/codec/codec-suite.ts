import { describe, it } from 'vitest';
import { type CodecSuiteOptions, codecChecks } from './codec-checks.js';

/** Registers the codec compliance checks as vitest tests. Call from a codec's `test/compliance.test.ts`. */
export function codecSuite(options: CodecSuiteOptions): void {
  describe(`codec compliance: ${options.codec.protocol}`, () => {
    for (const check of codecChecks(options)) it(check.name, () => check.run());
  });
}
