/**
 * A gateway in a process of its own, for the crash-durability test (which kills it with SIGKILL):
 *
 *   node --import tsx --conditions=@crosstalk/source crash-gateway.ts <state file>
 *
 * Prints one JSON line on stdout when it is ready (`{"ready": {host, port}}`, its SOCKS front) and
 * one for each buddy request or answer it acknowledged as held for an offline user
 * (`{"held": {kind, from, to, accepted?}}`). The gateway reports `pending-held` only once the
 * state file holding the request is durable; stdout is a pipe, written synchronously on Linux, so a
 * line the test read was acknowledged before the kill.
 */
import { stanza } from '@crosstalk/codec-xmpp';
import { formatAddress } from '@crosstalk/core';
import { createGateway } from '@crosstalk/gateway';
import { builtInCodecs } from '../../src/codecs.js';

const stateFile = process.argv[2];
if (!stateFile) throw new Error('usage: crash-gateway.ts <state file>');
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const gateway = await createGateway({
  codecs: builtInCodecs(),
  canonical: stanza,
  socks: { port: 0 },
  stateFile,
  logger: false,
});
gateway.on((e) => {
  if (e.type !== 'pending-held') return;
  const { event } = e;
  say({
    held: {
      kind: event.kind,
      from: formatAddress(event.from),
      to: formatAddress(event.to),
      ...(event.kind === 'buddy-response' ? { accepted: event.accepted } : {}),
    },
  });
});
process.once('SIGTERM', () => {
  gateway.close().then(() => process.exit(0));
});
say({ ready: gateway.socks });
