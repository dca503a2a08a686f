// A gateway that proxies IRC besides the built-in protocols: what a third party runs, since the
// `crosstalk` command only knows the codecs wired into it. Point an IRC client's SOCKS4 proxy at
// the address it prints. Run from the repository root (after `npm run build`):
//   SOCKS_PORT=1080 npx tsx examples/codec-irc/scripts/gateway.ts
import { builtInCodecs, canonicalForm } from '@crosstalk/cli';
import { irc } from '@crosstalk/example-codec-irc';
import { createGateway } from '@crosstalk/gateway';

const gateway = await createGateway({
  // Every gateway that should reach IRC users registers the codec, also one no IRC client uses:
  // an XMPP user's session treats `alice@irc` as foreign only when some codec declares `irc`.
  codecs: [irc(), ...builtInCodecs()],
  canonical: canonicalForm(),
  socks: { host: '127.0.0.1', port: Number(process.env.SOCKS_PORT ?? 1080) },
  logger: false,
});
console.log(`SOCKS4 proxy on 127.0.0.1:${gateway.socks.port} for irc, oscar, ymsg, msnp and xmpp clients`);
process.once('SIGINT', () => {
  gateway.close().then(() => process.exit(0));
});
