import { createServer, type Server, type Socket } from 'node:net';
import type { Dht } from '@crosstalk/core';
import type { HandOffState, ProxiedConnection } from '../engine/connection.js';
import { type GatewayIdentity, identityFromPem } from '../g2g/identity.js';
import type { Socks4Request } from '../socks/socks4.js';
import { descriptorCount, descriptorLimit, descriptorReserve, descriptorsOf } from './descriptors.js';
import type { FromWorker, SessionHandOff, ToWorker } from './messages.js';
import { WORKER_INDEX_ENV } from './messages.js';
import { SharedCookieTable } from './shared-cookies.js';
import { SharedDht } from './shared-dht.js';
import { SocketLane } from './socket-lane.js';

/** ms between a worker's reports of its descriptors to the primary. */
const DESCRIPTOR_REPORT_MS = 1000;
/**
 * ms between counts of a worker's descriptors while it holds under half its limit: listing
 * /proc/self/fd costs about 2 ms per 1,000 descriptors (docs/benchmarks.md, "a worker's
 * descriptor count"), and between counts the estimate adds every socket taken without
 * subtracting those closed, so it errs high; near its limit a worker counts every second.
 */
const DESCRIPTOR_COUNT_FAR_MS = 5000;

/** What a worker's gateway does with what the primary sends it (`ClusterWorker.serve`). */
export interface WorkerHandlers {
  /** A client connection (accepted here, or by a worker with no room): its SOCKS request is read here. */
  connection(client: Socket): void;
  /** Accepting on the host's listener failed (out of descriptors): it goes on listening. */
  acceptError?(error: Error): void;
  /** A CONNECT to a virtual endpoint this worker holds, read by another worker. */
  socksHandOff(client: Socket, request: Socks4Request, early: Uint8Array): void;
  /** A connection another worker began whose session named a user this worker serves. */
  sessionHandOff(client: Socket, upstream: Socket | undefined, info: SessionHandOff): void;
  /** This worker's metrics, as prom-client's `getMetricsAsJSON` gives them. */
  metrics(): Promise<unknown>;
  /** The primary asks the worker to stop (or is gone): close gracefully. */
  shutdown(): Promise<void>;
}

/** A session hand-off arriving in its three messages (client socket, state, upstream socket). */
interface HandOffParts {
  client: Socket;
  info?: Extract<ToWorker, { t: 'handoff-session' }>;
  upstream?: Socket | undefined;
}

type Send = (message: FromWorker, handle?: Socket, callback?: (error: Error | null) => void) => void;

/**
 * This process as worker `index` of a `--workers N` host (`startGatewayCluster` started it): the
 * link to the primary. Pass it to `createGateway({ worker })`: the gateway then accepts its client
 * connections on the host's listener, which the primary shares with every worker (passing on to
 * another worker what it cannot take near its descriptor limit), serves the users `workerOf` gives it, hands
 * connections of other workers' users to them, shares login cookies with every worker, and (in
 * embedded mode) uses the primary's directory.
 */
export class ClusterWorker {
  /** This worker's index, 0 to `count - 1`: the same on every restart. */
  readonly index: number;
  /** How many workers the host runs. */
  readonly count: number;
  /** The host's SOCKS4 address (every worker accepts on it; see `SharedListener`). */
  readonly socks: {
    /** The listener's address. */
    host: string;
    /** Its port. */
    port: number;
  };
  /** This worker's key, the same on every restart (a state file, when there is one, keeps its own). */
  readonly identity: GatewayIdentity;
  /** The primary's directory, in embedded mode (undefined: the worker brings its own, e.g. hyperdht). */
  readonly dht: Dht | undefined;
  /** Login cookies every worker of the host sees. */
  readonly cookies: SharedCookieTable;
  readonly #lane: SocketLane<FromWorker>;
  #handlers: WorkerHandlers | undefined;
  readonly #early: { message: ToWorker; handle: Socket | undefined }[] = [];
  readonly #parts = new Map<string, HandOffParts>();
  #handOffs = 0;
  /** What the sockets received from the primary take here (`descriptorsOf`), for its reports. */
  #descriptorsReceived = 0;
  /** What every socket taken here takes: accepted (2: its upstream may follow) and received. */
  #descriptorsTaken = 0;
  /** The last count of open descriptors, and `#descriptorsTaken` when it began. */
  #measured: { open: number; limit: number; taken: number; at: number } | undefined;
  /** Near the limit since the last count, and the primary was told. */
  #full = false;
  /** The host's listening socket, from the primary; accepted on once the gateway is ready. */
  #listenHandle: unknown;
  #listener: Server | undefined;
  #readyInfo: FromWorker | undefined;
  #shuttingDown = false;

  /** @internal Made by `joinGatewayCluster` from the primary's first message. */
  constructor(init: Extract<ToWorker, { t: 'init' }>, send: Send) {
    this.index = init.index;
    this.count = init.count;
    this.socks = init.socks;
    this.identity = identityFromPem(init.identity, `worker ${init.index}'s key`);
    this.#lane = new SocketLane<FromWorker>(send);
    this.cookies = new SharedCookieTable((op) => send(op));
    for (const op of init.cookies) this.cookies.apply(op);
    this.dht = init.dht ? new SharedDht(init.dht, (m) => send(m)) : undefined;
  }

  /** To the primary: sockets and their hand-off messages in their own lane, the rest at once. */
  #send(message: FromWorker, handle?: Socket, failed?: () => void): void {
    this.#lane.send(message, handle, failed);
  }

  /** Starts taking what the primary sends (what came before is taken now, in order). */
  serve(handlers: WorkerHandlers): void {
    this.#handlers = handlers;
    for (const { message, handle } of this.#early.splice(0)) this.#take(message, handle);
  }

  /**
   * Tells the primary this worker's gateway is up, once it accepts on the host's listener (the
   * primary sends that right after `init`; the first worker to listen opens the host's address).
   */
  ready(info: { id: string; contact: unknown; g2g?: { host: string; port: number } | undefined }): void {
    this.#readyInfo = {
      t: 'ready',
      id: info.id,
      contact: info.contact,
      ...(info.g2g ? { g2g: info.g2g } : {}),
    };
    this.#open();
  }

  #open(): void {
    if (!this.#readyInfo || this.#listenHandle === undefined || this.#listener || this.#shuttingDown) return;
    // Paused: a connection passed on to another worker must not be read here (see `stopReading`).
    const listener = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) =>
      this.#accepted(socket),
    );
    // After listening, an 'error' is a failed accept (EMFILE); unheard, it would end the process.
    listener.on('error', (error) => this.#handlers?.acceptError?.(error));
    listener.listen(this.#listenHandle as Parameters<Server['listen']>[0]);
    this.#listener = listener;
    this.#send(this.#readyInfo);
    this.#reportDescriptors();
    setInterval(() => this.#reportDescriptors(), DESCRIPTOR_REPORT_MS).unref();
  }

  /**
   * A connection accepted on the host's listener: served here, or, with this worker near its
   * descriptor limit, passed to the primary for a worker with room (a worker that accepted past
   * its limit would fail every connection it serves, since each may need its upstream too).
   */
  #accepted(socket: Socket): void {
    if (this.#nearLimit()) {
      // Each waits here until the primary took it: past a few, a full worker would fill up with
      // them, so the rest are closed at once (and counted by the primary as refused).
      if (this.#lane.waiting >= descriptorReserve(this.#measured!.limit) / 4) {
        socket.destroy();
        this.#send({ t: 'refused', reason: 'descriptors' });
        return;
      }
      this.#took(1);
      this.#send({ t: 'redistribute' }, socket, () => socket.destroy());
      return;
    }
    this.#took(2);
    this.#handlers!.connection(socket);
    socket.resume();
  }

  /** Descriptors open here by the last count, and every one taken since (none given back: a bound). */
  #openNow(): number | undefined {
    const m = this.#measured;
    return m && m.open + (this.#descriptorsTaken - m.taken);
  }

  #nearLimit(): boolean {
    const open = this.#openNow();
    return open !== undefined && open + descriptorReserve(this.#measured!.limit) >= this.#measured!.limit;
  }

  /**
   * Counts descriptors taken here (accepted or received). The primary is told at once when they
   * bring this worker near its limit: it must not send more, since a socket sent to a process that
   * cannot open another descriptor ends the primary (see `descriptorCount`, descriptors.ts).
   */
  #took(descriptors: number): void {
    this.#descriptorsTaken += descriptors;
    if (this.#full || !this.#nearLimit()) return;
    this.#full = true;
    // No socket with it: it overtakes those waiting in the lane.
    if (process.connected)
      this.#send({
        t: 'descriptors',
        open: this.#openNow()!,
        limit: this.#measured!.limit,
        received: this.#descriptorsReceived,
      });
  }

  /** Tells the primary how many descriptors this worker holds, so that it is not sent more than it can take. */
  #reportDescriptors(): void {
    // Taken before the count: a socket arriving meanwhile is then counted as on its way (too many, not too few).
    const received = this.#descriptorsReceived;
    const taken = this.#descriptorsTaken;
    const m = this.#measured;
    const open = this.#openNow();
    const counted =
      m !== undefined &&
      open !== undefined &&
      open < m.limit / 2 &&
      Date.now() - m.at < DESCRIPTOR_COUNT_FAR_MS;
    // Read each second: an operator may change a running process's limit (prlimit --pid).
    void descriptorLimit().then(async (limit) => {
      // Far from the limit and counted lately: only a changed limit is worth a count now.
      if (limit === undefined || (counted && limit === m.limit)) return;
      const count = await descriptorCount();
      if (count === undefined) return;
      this.#measured = { open: count, limit, taken, at: Date.now() };
      this.#full = false;
      if (process.connected) this.#send({ t: 'descriptors', open: count, limit, received });
    });
  }

  /** Tells the primary this worker could not start (it prints `message` at the first start). */
  failed(message: string): void {
    this.#send({ t: 'failed', message });
  }

  /** Sends a client whose CONNECT names a virtual endpoint of worker `to` there. */
  handOffSocks(to: number, client: Socket, request: Socks4Request, early: Uint8Array): void {
    const hid = `${this.index}-${++this.#handOffs}`;
    this.#send({ t: 'handoff-client', to, hid }, client, () => client.destroy());
    this.#send({ t: 'handoff-socks', to, hid, request, early });
  }

  /** Sends a connection whose session named a user of worker `to` there, with what its session was fed. */
  handOffSession(to: number, connection: ProxiedConnection, state: HandOffState): void {
    const hid = `${this.index}-${++this.#handOffs}`;
    const { client, upstream } = connection;
    this.#send({ t: 'handoff-client', to, hid }, client, () => client.destroy());
    const info: SessionHandOff = {
      protocol: connection.codec.protocol,
      target: connection.target,
      transcript: state.transcript,
      eventsHandled: state.eventsHandled,
      held: state.held,
    };
    this.#send({ t: 'handoff-session', to, hid, info, upstream: upstream !== undefined });
    if (upstream) this.#send({ t: 'handoff-upstream', to, hid }, upstream, () => upstream.destroy());
  }

  /** @internal A message from the primary (and the socket it carries). */
  receive(message: ToWorker, handle: Socket | undefined): void {
    if (message.t === 'listen') {
      this.#listenHandle = handle;
      this.#open();
      return;
    }
    if (handle) {
      this.#descriptorsReceived += descriptorsOf(message);
      this.#took(descriptorsOf(message));
    }
    this.#take(message, handle);
  }

  #take(message: ToWorker, handle: Socket | undefined): void {
    const h = this.#handlers;
    switch (message.t) {
      case 'cookie':
        this.cookies.apply(message);
        // Confirmed, so that the recording worker tells its client the cookie only once it is here.
        if (message.op === 'record' && message.relay !== undefined)
          this.#send({ t: 'cookie-applied', relay: message.relay });
        return;
      case 'cookie-ack':
        this.cookies.acknowledged(message.seq);
        return;
      case 'dht-reply':
        (this.dht as SharedDht | undefined)?.reply(message);
        return;
      case 'shutdown':
        void this.shutdown();
        return;
      default:
        break;
    }
    if (!h) {
      this.#early.push({ message, handle });
      return;
    }
    switch (message.t) {
      case 'socks':
        if (handle) h.connection(handle);
        return;
      case 'handoff-socks': {
        const part = this.#parts.get(message.hid);
        this.#parts.delete(message.hid);
        if (part) h.socksHandOff(part.client, message.request, message.early);
        return;
      }
      case 'handoff-client': {
        if (!handle) return;
        const part: HandOffParts = { client: handle };
        this.#parts.set(message.hid, part);
        // The rest comes next on the same channel; a sender that died in between never sends it,
        // and the sockets are dropped.
        const timer = setTimeout(() => {
          if (this.#parts.get(message.hid) !== part) return;
          this.#parts.delete(message.hid);
          part.client.destroy();
          part.upstream?.destroy();
        }, 30_000);
        timer.unref();
        return;
      }
      case 'handoff-session':
      case 'handoff-upstream': {
        const part = this.#parts.get(message.hid);
        if (!part) {
          handle?.destroy();
          return;
        }
        if (message.t === 'handoff-session') part.info = message;
        else part.upstream = handle;
        if (!part.info || (part.info.upstream && !part.upstream)) return;
        this.#parts.delete(message.hid);
        h.sessionHandOff(part.client, part.upstream, part.info.info);
        return;
      }
      case 'metrics':
        void h.metrics().then(
          (metrics) => this.#send({ t: 'metrics-reply', seq: message.seq, metrics }),
          () => this.#send({ t: 'metrics-reply', seq: message.seq, metrics: [] }),
        );
        return;
      default:
        return;
    }
  }

  /** Closes the gateway (once) and exits. */
  async shutdown(): Promise<void> {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    // No new connection is taken here from now on: the other workers take them.
    this.#listener?.close();
    try {
      await this.#handlers?.shutdown();
    } finally {
      process.exit(0);
    }
  }

  /** @internal The primary is gone. */
  disconnected(): void {
    (this.dht as SharedDht | undefined)?.disconnected();
    void this.shutdown();
  }
}

/** True in a process `startGatewayCluster` started as one of its workers. */
export function isClusterWorker(): boolean {
  return process.env[WORKER_INDEX_ENV] !== undefined && typeof process.send === 'function';
}

/**
 * In a worker process (`isClusterWorker()`), waits for the primary's first message and returns
 * the link to it. Rejects after `timeoutMs` without one, or outside a worker.
 */
export function joinGatewayCluster(timeoutMs = 30_000): Promise<ClusterWorker> {
  return new Promise((resolve, reject) => {
    if (!isClusterWorker()) {
      reject(new Error('not a worker of a gateway host (startGatewayCluster starts them)'));
      return;
    }
    const send: Send = (message, handle, callback) => {
      if (!process.connected) throw new Error('the primary is gone');
      if (handle) process.send!(message, handle, { keepOpen: false }, callback);
      else process.send!(message, undefined, undefined, callback);
    };
    let worker: ClusterWorker | undefined;
    const timer = setTimeout(
      () => reject(new Error(`no word from the primary within ${timeoutMs} ms`)),
      timeoutMs,
    );
    process.on('message', (message: ToWorker, handle?: Socket) => {
      if (worker) {
        worker.receive(message, handle);
        return;
      }
      if (message.t !== 'init') return;
      clearTimeout(timer);
      worker = new ClusterWorker(message, send);
      resolve(worker);
    });
    process.on('disconnect', () => worker?.disconnected() ?? process.exit(1));
    // Messages sent before a listener was there would be lost: the primary waits for this.
    send({ t: 'hello' });
  });
}
