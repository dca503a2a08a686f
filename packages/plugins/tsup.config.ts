import { packageBuild } from '../../tsup.shared';

// shims: `import.meta.url` in the CommonJS build too (the default database is found from it).
export default packageBuild({ index: 'src/index.ts', testing: 'src/testing/index.ts' }, { shims: true });
