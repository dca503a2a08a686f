import { packageBuild } from '../../tsup.shared';

export default packageBuild({ index: 'src/index.ts', bin: 'src/bin.ts', drivers: 'src/drivers/index.ts' });
