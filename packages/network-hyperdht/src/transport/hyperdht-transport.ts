import {
  type CrossTalkError,
  DeliveryFailedError,
  G2gAuthError,
  type G2gContact,
  G2gContactError,
  G2gHandshakeTimeoutError,
  type G2gListenOptions,
  type G2gStream,
  type G2gTransport,
} from '@crosstalk/core';
import type { HyperDhtNode, NodeServer, NodeSocket } from '../node/node.js';
import { FlowControlledStream } from './flow-control.js';

/**
 * The distributed G2G transport: hyperdht's encrypted, mutually authenticated streams. A gateway
 * listens on its own key pair (its id and Noise static key: hyperdht runs Noise IK, the dialler
 * pins the listener's key) and others dial it by public key alone: the DHT finds it, holepunching
 * where needed, so the contact it publishes carries nothing but the transport's name.
 *
 * Before a peer has proved its key, hyperdht bounds it itself: its handshake goes through the DHT
 * (signed, a few hundred bytes), and `firewall` refuses a key before any stream exists. Streams are
 * wrapped in credit-based flow control (`FlowControlledStream`): UDX has no receive window.
 */
export interface HyperDhtContact extends G2gContact {
  /** Names this transport. */
  readonly transport: 'hyperdht';
}

/** Options of `HyperDhtTransport`. */
export interface HyperDhtTransportOptions {
  /** The DHT node to listen and dial through (shared with the directory's store; not closed here). */
  node: Pick<HyperDhtNode, 'createServer' | 'connect' | 'remoteAddress' | 'findPeer'>;
  /** The gateway's key pair in libsodium form: 32-byte public key, 64-byte secret key (seed || public). */
  keyPair: { publicKey: Uint8Array; secretKey: Uint8Array };
  /** ms a dial may take to find the peer and complete the handshake. Default 20 s. */
  connectTimeout?: number;
  /**
   * ms between checks that some DHT node holds the listener's announcement; announced again when
   * none does. Default 5 s.
   */
  announceCheckInterval?: number;
  /**
   * ms between lookups of the listener's own key through the DHT, as a dialler's would find it;
   * announced again when no node returns the announcement (nodes that restarted and forgot it
   * still answer hyperdht's pings, so nothing else notices). 0 turns it off. Default 60 s.
   */
  announceLookupInterval?: number;
}

/** Default of `announceCheckInterval`. */
const ANNOUNCE_CHECK_MS = 5_000;
/** Default of `announceLookupInterval`: one DHT query a minute per gateway. */
const ANNOUNCE_LOOKUP_MS = 60_000;

const hex = (key: Uint8Array | null | undefined) => (key ? Buffer.from(key).toString('hex') : '');

/**
 * G2G over hyperdht: a gateway is dialled by its key through the DHT, over Noise-encrypted streams, with
 * credit-based flow control.
 */
export class HyperDhtTransport implements G2gTransport {
  readonly name = 'hyperdht';
  readonly localId: string;
  readonly #o: HyperDhtTransportOptions;
  readonly #keyPair: { publicKey: Buffer; secretKey: Buffer };
  #server: NodeServer | undefined;
  #announceCheck: ReturnType<typeof setInterval> | undefined;
  #announceLookup: ReturnType<typeof setInterval> | undefined;
  #lookingUp = false;
  #closed = false;
  readonly #open = new Set<NodeSocket>();

  constructor(options: HyperDhtTransportOptions) {
    if (options.keyPair.publicKey.length !== 32 || options.keyPair.secretKey.length !== 64)
      throw new TypeError('a hyperdht key pair has a 32-byte public key and a 64-byte secret key');
    this.#o = options;
    this.#keyPair = {
      publicKey: Buffer.from(options.keyPair.publicKey),
      secretKey: Buffer.from(options.keyPair.secretKey),
    };
    this.localId = hex(options.keyPair.publicKey);
  }

  async listen(options: G2gListenOptions): Promise<HyperDhtContact> {
    if (this.#server || this.#closed) throw new Error('a G2G transport listens once');
    const server = this.#o.node.createServer({
      // hyperdht asks before it answers the handshake: true rejects. The key is proven by then.
      firewall: (remotePublicKey: Uint8Array) => {
        const remoteId = hex(remotePublicKey);
        if (remoteId === this.localId || (options.allow && !options.allow(remoteId))) {
          options.onRefused?.({
            source: remoteId,
            error: new G2gAuthError(`gateway ${remoteId.slice(0, 12)}… is not accepted here`),
          });
          return true;
        }
        return false;
      },
    });
    server.on('connection', (socket: NodeSocket) => {
      socket.on('error', () => {});
      if (this.#closed) return void socket.destroy();
      this.#track(socket);
      options.onConnection(new FlowControlledStream(socket) as G2gStream, hex(socket.remotePublicKey));
    });
    this.#server = server;
    await server.listen(this.#keyPair);
    this.#announceCheck = setInterval(
      () => this.#announceIfUnheld(),
      this.#o.announceCheckInterval ?? ANNOUNCE_CHECK_MS,
    );
    this.#announceCheck.unref();
    const lookupEvery = this.#o.announceLookupInterval ?? ANNOUNCE_LOOKUP_MS;
    if (lookupEvery > 0 && this.#o.node.findPeer) {
      this.#announceLookup = setInterval(() => void this.#announceIfUnfound(), lookupEvery);
      this.#announceLookup.unref();
    }
    return { transport: 'hyperdht' };
  }

  async connect(peerId: string, contact: G2gContact): Promise<G2gStream> {
    if (contact.transport !== 'hyperdht')
      throw new G2gContactError(`not a hyperdht contact: ${JSON.stringify(contact).slice(0, 200)}`);
    if (!/^[0-9a-f]{64}$/.test(peerId)) throw new G2gAuthError('a gateway id is 64 lower-case hex digits');
    if (this.#closed) throw new DeliveryFailedError('the G2G transport is closed');
    if (peerId === this.localId) throw new G2gAuthError('a gateway cannot link to itself');
    const socket = this.#o.node.connect(Buffer.from(peerId, 'hex'), { keyPair: this.#keyPair });
    socket.on('error', () => {});
    this.#track(socket);
    const timeout = this.#o.connectTimeout ?? 20_000;
    return new Promise<G2gStream>((resolve, reject) => {
      let settled = false;
      const finish = (error?: CrossTalkError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('open', onOpen);
        socket.off('close', onClose);
        socket.off('error', onError);
        if (error) {
          socket.destroy();
          reject(error);
        } else resolve(new FlowControlledStream(socket) as G2gStream);
      };
      const onOpen = () => {
        // IK pins the key we dialled; checked again, so a transport bug can never hand out another.
        const remoteId = hex(socket.remotePublicKey);
        finish(
          remoteId === peerId
            ? undefined
            : new G2gAuthError(
                `dialled gateway ${peerId.slice(0, 12)}… but ${remoteId.slice(0, 12)}… answered`,
              ),
        );
      };
      const onError = (error: Error & { code?: string }) =>
        finish(
          /PEER_NOT_FOUND|PEER_CONNECTION_FAILED|HOLEPUNCH/.test(error.code ?? error.message)
            ? new DeliveryFailedError(`gateway ${peerId.slice(0, 12)}… is not reachable on the DHT`, {
                cause: error,
              })
            : /HANDSHAKE|firewall|REJECT/i.test(`${error.code ?? ''} ${error.message}`)
              ? new G2gAuthError(`gateway ${peerId.slice(0, 12)}… refused the handshake: ${error.message}`, {
                  cause: error,
                })
              : new DeliveryFailedError(`G2G dial over hyperdht failed: ${error.message}`, { cause: error }),
        );
      const onClose = () => finish(new DeliveryFailedError('the G2G connection closed before it opened'));
      const timer = setTimeout(() => finish(new G2gHandshakeTimeoutError(timeout)), timeout);
      timer.unref();
      socket.once('open', onOpen);
      socket.once('close', onClose);
      socket.once('error', onError);
    });
  }

  /**
   * Announces the listener again now: DHT nodes that restarted lost the announcement, and
   * hyperdht re-announces on its own only every few minutes (or when its relays stop answering:
   * a node restarted on the same address answers again).
   */
  reannounce(): void {
    if (!this.#closed) this.#server?.refresh();
  }

  /**
   * Announces again when no DHT node holds the announcement. hyperdht pings the nodes holding it
   * every 3 s and announces again when they stop answering; but an announce that reaches no node
   * (every node down, or this one cut off) leaves it pinging an empty set until its 5-minute
   * refresh, so the gateway could not be dialled for minutes after the DHT came back.
   */
  #announceIfUnheld(): void {
    const relays = this.#server?.relayAddresses;
    if (this.#closed || !relays) return;
    const own = this.#o.node.remoteAddress?.();
    const held = relays.some((a) => !own || a.host !== own.host || a.port !== own.port);
    if (!held) this.#server?.refresh();
  }

  /**
   * Looks the listener up as a dialler would and announces again when no node returns it: the
   * nodes holding the announcement restarted (same addresses, so the same ids) between two of
   * hyperdht's 3-second pings and forgot it, yet answer the pings, so the check above and hyperdht
   * see nothing wrong until hyperdht's 5-minute refresh, and every dial meanwhile fails.
   */
  async #announceIfUnfound(): Promise<void> {
    const findPeer = this.#o.node.findPeer?.bind(this.#o.node);
    if (this.#closed || this.#lookingUp || !this.#server || !findPeer) return;
    this.#lookingUp = true;
    let gone = false;
    try {
      const query = findPeer(this.#keyPair.publicKey);
      let found = false;
      for await (const reply of query) {
        found = reply.peer !== undefined && Buffer.from(reply.peer.publicKey).equals(this.#keyPair.publicKey);
        if (found) {
          query.destroy();
          break;
        }
      }
      // Nodes that hold nothing for the key answer too (their replies are not yielded): gone only
      // when some answered, not during an outage (`#announceIfUnheld` and reannounce see to that).
      gone = !found && query.successes > 0;
    } catch {
      // The DHT did not answer: as above.
    } finally {
      this.#lookingUp = false;
    }
    if (gone && !this.#closed) this.#server?.refresh();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#announceCheck);
    clearInterval(this.#announceLookup);
    for (const socket of [...this.#open]) socket.destroy();
    this.#open.clear();
    await this.#server?.close();
  }

  #track(socket: NodeSocket): void {
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
  }
}
