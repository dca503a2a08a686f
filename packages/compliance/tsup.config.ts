import { packageBuild } from '../../tsup.shared';

// ESM only: the suites import vitest, which cannot be loaded with require() (no `require` export).
// `fuzz` is its own entry: it imports no test runner, so plain node scripts can run it.
export default packageBuild({ index: 'src/index.ts', fuzz: 'src/fuzz/index.ts' }, { format: ['esm'] });
