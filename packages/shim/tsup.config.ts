import { packageBuild } from '../../tsup.shared';

export default packageBuild({
  index: 'src/index.ts',
  xmpp: 'src/xmpp/index.ts',
  testing: 'src/testing/index.ts',
});
