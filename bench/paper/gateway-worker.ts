/**
 * A worker of the benchmark's gateway host (`gateway-process.ts` with `workers`): the same
 * gateway as the embedded one there (every codec, the XMPP stanza form on G2G), taking its
 * connections from the host's primary and the directory from it, as `crosstalk gateway --workers N`
 * runs each worker.
 */
import { builtInCodecs, canonicalForm } from '@crosstalk/cli';
import { createGateway, joinGatewayCluster } from '@crosstalk/gateway';

const worker = await joinGatewayCluster();
const gateway = await createGateway({
  codecs: builtInCodecs(),
  canonical: canonicalForm(),
  worker,
  logger: false,
  maxBacklog: 8 * 1024 * 1024,
  // The load process's thousands of users all connect from 127.0.0.1.
  limits: { socksConnections: Number.POSITIVE_INFINITY, socksConnectionsPerSource: Number.POSITIVE_INFINITY },
});
worker.ready({ id: gateway.id, contact: gateway.contact, g2g: gateway.g2g });
