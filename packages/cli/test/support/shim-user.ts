import tls from 'node:tls';
import { stanza } from '@crosstalk/codec-xmpp';
import type { RunningProsody } from '@crosstalk/codec-xmpp/testing';
import type { Address, Dht, G2gTransport } from '@crosstalk/core';
import type { Directory, GatewayEvent, GatewayIdentity } from '@crosstalk/gateway';
import { type BaseClientShim, createShim } from '@crosstalk/shim';
import { xmppBase } from '@crosstalk/shim/xmpp';
import { EventDriver } from '../../src/drivers/events.js';
import type { GatewayView } from './gateway.js';

/**
 * A user of an XMPP server that requires TLS, on CrossTalk through the shim (`createShim` over the
 * XMPP base client): a `UserDriver` for the walk-through steps. Each login is a new shim (a new
 * node) on the same state file, so the node keeps its key and the user's foreign buddies; `view`
 * is the node as the steps see a gateway, across logins.
 */
export class ShimUser extends EventDriver {
  readonly address: Address;
  readonly view: GatewayView;
  readonly #options: ShimUserOptions;
  readonly #listeners = new Set<(event: GatewayEvent) => void>();
  #shim: BaseClientShim | undefined;
  #id: string | undefined;

  constructor(options: ShimUserOptions) {
    super();
    this.#options = options;
    this.address = { user: options.user, network: options.prosody.domain };
    const listeners = this.#listeners;
    const self = this;
    this.view = {
      get id() {
        if (!self.#id) throw new Error('the shim user has not logged in yet');
        return self.#id;
      },
      socks: { host: '127.0.0.1', port: 0 },
      directory: options.directory,
      on(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
  }

  /** The running shim. */
  get shim(): BaseClientShim {
    if (!this.#shim) throw new Error(`${this.address.user} is not logged in`);
    return this.#shim;
  }

  async login(): Promise<void> {
    await this.disconnect();
    const { prosody, user, password, dht, hyperdht, stateFile, transport, reaches } = this.#options;
    const shim = await createShim({
      base: xmppBase({
        jid: `${user}@${prosody.domain}`,
        password,
        service: `xmpp://${prosody.host}:${prosody.port}`,
        tls: { ca: prosody.certificate },
        mechanism: 'PLAIN',
        ...(reaches ? { reaches } : {}),
      }),
      ...(hyperdht ? { hyperdht } : { dht }),
      stateFile,
      canonical: stanza,
      logger: false,
      ...(transport ? { transport } : {}),
    });
    this.#shim = shim;
    this.#id = shim.node.id;
    shim.node.on((e) => {
      for (const l of [...this.#listeners]) l(e);
    });
    shim.on('event', (e) => this.received(e));
  }

  async logout(): Promise<void> {
    await this.disconnect();
  }

  async disconnect(): Promise<void> {
    const shim = this.#shim;
    this.#shim = undefined;
    await shim?.close();
  }

  async addBuddy(buddy: Address, message?: string): Promise<void> {
    await this.shim.addBuddy(buddy, message);
  }

  async answerBuddyRequest(from: Address, accept: boolean): Promise<void> {
    await this.shim.answerBuddy(from, accept);
  }

  buddies(): Address[] {
    return this.shim.roster().map((i) => i.address);
  }

  async sendIm(to: Address, text: string): Promise<void> {
    await this.shim.sendIM(to, text);
  }

  async sendTyping(to: Address, state: 'composing' | 'paused'): Promise<void> {
    await this.shim.sendTyping(to, state);
  }

  async setPresence(status: 'online' | 'away', text?: string): Promise<void> {
    await this.shim.setPresence(status, text);
  }
}

/** Options of `ShimUser`. */
export interface ShimUserOptions {
  prosody: RunningProsody;
  user: string;
  password: string;
  /** The shared directory of nodes in this process (or `hyperdht`). */
  dht?: Dht;
  /** A hyperdht network to join instead (nodes in several processes). */
  hyperdht?: { bootstrap: readonly { host: string; port: number }[] };
  /** The node's state file, kept across logins. */
  stateFile: string;
  /** Where the steps read the directory (any node's view of the shared DHT; the shim's node may be offline). */
  directory: Pick<Directory, 'lookupLocation' | 'pendingFor'>;
  /** A G2G transport of the test's own (to watch what crosses it). */
  transport?: (identity: GatewayIdentity) => G2gTransport;
  /** Which users the XMPP server reaches (default: every XMPP domain, as `xmppBase`'s). */
  reaches?: (to: Address) => boolean;
}

/**
 * Lets @xmpp/client's own STARTTLS (`tls.connect({ socket, host: domain })`, no TLS options in
 * 0.14) trust the test server's certificate, fully verified, until the returned function is called.
 * Only such calls (a socket, a host, no `ca`, no `servername`): never the shim's, which names both.
 */
export function trustFor(domain: string, certificate: string): () => void {
  const target = tls as { connect: typeof tls.connect };
  const original = target.connect;
  target.connect = ((...args: Parameters<typeof tls.connect>) => {
    const options = args[0] as tls.ConnectionOptions | undefined;
    if (options && typeof options === 'object' && options.socket && !options.ca && !options.servername) {
      if (options.host === domain) args[0] = { ...options, ca: [certificate] } as never;
    }
    return original.apply(tls, args as never);
  }) as typeof tls.connect;
  return () => {
    target.connect = original;
  };
}
