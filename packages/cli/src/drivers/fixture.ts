import type { Address } from '@crosstalk/core';
import type { ConnectUser, Dial, NetworkFixture, NetworkUser, UserDriver } from './driver.js';

/** Whom a driver logs in as, and how: the user, their server, and how every connection is opened. */
export interface Account extends NetworkUser {
  /** Where the client connects (through `dial`). */
  server: { host: string; port: number };
  /** The network id the user's address carries (XMPP: the server's domain). */
  network: string;
  dial: Dial;
}

/** A `ConnectUser` (a user of a server that runs elsewhere) for drivers made by `make`. */
export const connector =
  (make: (account: Account) => UserDriver): ConnectUser =>
  (server, user, dial) =>
    make({
      name: user.name,
      password: user.password,
      server: { host: server.host, port: server.port },
      network: server.network,
      dial,
    });

/** A network's server and how to drive its users: what `networkFixture` makes a `NetworkFixture` of. */
export interface FixtureParts<D extends UserDriver> {
  protocol: string;
  network: string;
  server: { host: string; port: number };
  users: readonly NetworkUser[];
  /** Which user a name stands for, as the network compares names (case, spaces, a default domain). */
  key(name: string): string;
  address(name: string): Address;
  /** A driver for one of the users (`account.name` as the test named them). */
  driver(account: Account): D;
  /** Stops the server (once every driver made was disconnected). */
  close(): Promise<void>;
}

/** A `NetworkFixture` whose drivers are `D`s. */
export interface DriverFixture<D extends UserDriver> extends NetworkFixture {
  driver(name: string, dial: Dial): D;
}

/**
 * A `NetworkFixture` over a started server: `driver` looks the user up (unknown names throw) and
 * keeps what it made, `stop` disconnects all of those and then stops the server.
 */
export function networkFixture<D extends UserDriver>(parts: FixtureParts<D>): DriverFixture<D> {
  const passwords = new Map(parts.users.map((u) => [parts.key(u.name), u.password]));
  const made = new Set<D>();
  return {
    protocol: parts.protocol,
    network: parts.network,
    server: parts.server,
    address: parts.address,
    driver(name, dial) {
      const password = passwords.get(parts.key(name));
      if (password === undefined) throw new Error(`no ${parts.protocol} user ${name} in this fixture`);
      const d = parts.driver({ name, password, server: parts.server, network: parts.network, dial });
      made.add(d);
      return d;
    },
    async stop() {
      await Promise.all([...made].map((d) => d.disconnect()));
      await parts.close();
    },
  };
}
