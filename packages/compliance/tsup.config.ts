import { packageBuild } from '../../tsup.shared';

// ESM only: the suites import vitest, which cannot be loaded with require() (no `require` export).
export default packageBuild({ index: 'src/index.ts' }, { format: ['esm'] });
