import HyperDHT from 'hyperdht';
import { DhtBootstrapRequiredError } from '../errors/errors.js';
import type { NodeAddress } from './node.js';

/** hyperdht's built-in bootstrap nodes (`ip@name:port`), each by address and by name. */
function publicBootstrapHosts(): Set<string> {
  const hosts = new Set<string>();
  for (const entry of HyperDHT.BOOTSTRAP) {
    const [ipOrName, rest] = entry.split('@');
    hosts.add(ipOrName!);
    if (rest) hosts.add(rest.slice(0, rest.lastIndexOf(':')));
  }
  return hosts;
}

/**
 * Refuses a bootstrap list that reaches hyperdht's public network: a node made without an explicit
 * list joins through the public bootstrap nodes, which this package never contacts. A running node
 * passed to a store may have none (it is then the first node of its own network).
 */
export function assertPrivateBootstrap(nodes: readonly NodeAddress[], running: boolean): void {
  if (!running && nodes.length === 0) throw new DhtBootstrapRequiredError();
  const reserved = publicBootstrapHosts();
  for (const node of nodes) {
    if (reserved.has(node.host))
      throw new DhtBootstrapRequiredError(
        `${node.host}:${node.port} is one of hyperdht's public bootstrap nodes`,
      );
  }
}
