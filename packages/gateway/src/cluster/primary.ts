import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { type Dht, MemoryDht } from '@crosstalk/core';
import pino, { type Logger } from 'pino';
import { AggregatorRegistry, Counter, Registry } from 'prom-client';
import { stopReading } from '../engine/connection.js';
import { WorkerStartFailedError } from '../errors/errors.js';
import { type GatewayIdentity, generateIdentity } from '../g2g/identity.js';
import { descriptorReserve, descriptorsOf } from './descriptors.js';
import { type CookieOp, type FromWorker, type ToWorker, WORKER_INDEX_ENV } from './messages.js';
import { answerDht } from './shared-dht.js';
import { SharedListener } from './shared-listener.js';
import { SocketLane } from './socket-lane.js';

/** Options of `startGatewayCluster`. */
export interface GatewayClusterOptions {
  /** How many workers (gateways) to run: usually the number of cores. */
  workers: number;
  /**
   * The program each worker runs (forked with `args` and `execArgv`): it calls
   * `joinGatewayCluster()` and `createGateway({ ..., worker })`.
   */
  exec: string;
  /** Arguments of the worker program. */
  args?: readonly string[];
  /** Node options of the worker processes (default: this process's). */
  execArgv?: readonly string[];
  /** Environment of the worker processes (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** The host's SOCKS4 listen address: one for all workers. Default 127.0.0.1:1080. */
  socks?: {
    /** The address to listen on. */
    host?: string;
    /** The port (0: any free one). */
    port?: number;
  };
  /** `/metrics` for the whole host (every worker's metrics, summed); `false` for none. Default none. */
  metrics?:
    | {
        /** The address to listen on. */
        host?: string;
        /** The port (0: any free one). */
        port?: number;
      }
    | false;
  /**
   * Embedded mode: the directory every worker uses, held here (default: a new `MemoryDht`); `false`
   * when the workers bring their own (distributed mode: each its own hyperdht node).
   */
  dht?: Dht | false;
  /** Each worker's key, by index (default: generated now, the same for every restart of an index). */
  identities?: readonly GatewayIdentity[];
  /** ms a worker has to say it is ready (default 60 s). */
  startTimeout?: number;
  /**
   * ms a connection handed to a worker that is restarting may wait for it before it is dropped
   * (default 30 s). New connections wait in the kernel's backlog while no worker accepts.
   */
  queueTimeout?: number;
  /** A pino logger; `false` for none. Default: a pino logger named `crosstalk-primary`. */
  logger?: Logger | false;
}

/** One worker as the primary sees it. */
export interface WorkerInfo {
  /** Its index, 0 to `workers - 1`. */
  index: number;
  /** Its process id, while it runs. */
  pid: number | undefined;
  /** Its gateway id, once it was ready. */
  id: string | undefined;
  /** Its G2G TCP listener, when it has one. */
  g2g:
    | {
        /** The listener's address. */
        host: string;
        /** Its port. */
        port: number;
      }
    | undefined;
  /** True while it serves. */
  ready: boolean;
  /** How many times it was restarted after it ended. */
  restarts: number;
  /** Its last report of its open descriptors and their limit (Linux only; none before its first). */
  descriptors:
    | {
        /** Descriptors it held. */
        open: number;
        /** Its soft limit (`ulimit -n`). */
        limit: number;
      }
    | undefined;
}

/** What a host's primary reports to `on` listeners. */
export type ClusterEvent =
  | {
      /** A worker started and serves. */
      type: 'worker-ready';
      /** The worker's index. */
      index: number;
      /** Its process id. */
      pid: number;
      /** Its gateway id. */
      id: string;
    }
  | {
      /** A worker's process ended. */
      type: 'worker-exit';
      /** The worker's index. */
      index: number;
      /** Its process id. */
      pid: number;
      /** Its exit code, if it exited. */
      code: number | null;
      /** The signal that ended it, if one did. */
      signal: string | null;
    }
  | {
      /** A worker is to be started again. */
      type: 'worker-restart';
      /** The worker's index. */
      index: number;
      /** ms until it is started. */
      delay: number;
    };

/** A running host of several gateway workers behind one SOCKS address (`startGatewayCluster`). */
export interface GatewayCluster {
  /** The SOCKS4 address clients are pointed at. */
  readonly socks: {
    /** The listener's address. */
    host: string;
    /** Its port. */
    port: number;
  };
  /** The `/metrics` listener's address, when `metrics` is set. */
  readonly metricsAddress:
    | {
        /** The listener's address. */
        host: string;
        /** Its port. */
        port: number;
      }
    | undefined;
  /** Every worker, by index. */
  workers(): WorkerInfo[];
  /** Observes workers starting, ending and being restarted. Returns an unsubscribe function. */
  on(listener: (event: ClusterEvent) => void): () => void;
  /** Stops accepting, has every worker close gracefully, then stops. */
  close(): Promise<void>;
}

interface Slot {
  index: number;
  identity: GatewayIdentity;
  proc: ChildProcess | undefined;
  /** The worker's channel is listening (it said hello): cookie operations go to it. */
  listening: boolean;
  ready: boolean;
  id: string | undefined;
  g2g: { host: string; port: number } | undefined;
  restarts: number;
  startedAt: number;
  /** Consecutive short-lived runs, for the restart backoff. */
  crashes: number;
  /** Its cookie records passed on to the other workers and not yet acknowledged to it, in order. */
  relays: number[];
  /** What waits for the worker to be ready, in order. */
  queue: { message: ToWorker; handle: Socket | undefined; at: number }[];
  /** The running worker's channel, its sockets in a lane of their own (see `SocketLane`). */
  lane: SocketLane<ToWorker> | undefined;
  /** The worker's last report of its descriptors (none yet, or not on Linux: no limit known). */
  descriptors: { open: number; limit: number } | undefined;
  /**
   * Descriptors the sockets sent to this worker take there, counted since it started (2 for a new
   * connection, which may open its upstream there; 1 for a hand-off part), and how many of them it
   * had received at its last report: the difference waits in Node's queue of handles (one handle
   * crosses at a time, each acknowledged), not yet in the worker's count of open descriptors.
   */
  descriptorsSent: number;
  descriptorsReceived: number;
}

const COOKIE_TTL = 5 * 60 * 1000;

/**
 * Starts a host of `workers` gateways behind one SOCKS address (docs/operating.md "Using every
 * core"): this process (the primary) binds the address and every worker accepts on it (see
 * `SharedListener`); each worker is a gateway of its own (its key, its G2G listener, its users) and
 * serves the users `workerOf` gives it, handing any connection of another worker's user there
 * (through this process) before it is attached; a worker near its descriptor limit passes new
 * connections here, for a worker with room. Login cookies are passed to every worker, and in embedded mode
 * the primary holds the directory they share. A worker that ends is started again with the same
 * index and key; connections for it wait meanwhile.
 */
export async function startGatewayCluster(options: GatewayClusterOptions): Promise<GatewayCluster> {
  const cluster = new Primary(options);
  await cluster.start();
  return cluster;
}

class Primary implements GatewayCluster {
  readonly #o: GatewayClusterOptions;
  readonly #log: Logger;
  readonly #slots: Slot[];
  readonly #dht: Dht | undefined;
  readonly #cookies = new Map<string, { op: Extract<CookieOp, { op: 'record' }>; expires: number }>();
  /** Cookie records passed on and not yet confirmed by every other worker, by relay number. */
  readonly #relays = new Map<number, { from: Slot; seq: number; waiting: Set<number> }>();
  #relaySeq = 0;
  readonly #listeners = new Set<(e: ClusterEvent) => void>();
  readonly #metricsWaiting = new Map<number, (metrics: unknown) => void>();
  #metricsSeq = 0;
  #listener: SharedListener | undefined;
  #http: HttpServer | undefined;
  #next = 0;
  #closing = false;
  /** The primary's own metrics, summed with the workers' on `/metrics`. */
  readonly #registry = new Registry();
  readonly #refused: Counter<'reason'>;
  readonly #redistributed: Counter;
  #refusedLogged = 0;
  #sweeper: NodeJS.Timeout | undefined;
  socks!: { host: string; port: number };
  metricsAddress: { host: string; port: number } | undefined;
  /** Set while starting: the first failure of a worker ends the start. */
  #starting: { fail(error: Error): void } | undefined;

  constructor(options: GatewayClusterOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1)
      throw new RangeError(`workers must be a positive integer, not ${options.workers}`);
    this.#o = options;
    this.#log =
      options.logger === false
        ? pino({ enabled: false })
        : (options.logger ?? pino({ name: 'crosstalk-primary' }));
    this.#dht = options.dht === false ? undefined : (options.dht ?? new MemoryDht());
    this.#slots = Array.from({ length: options.workers }, (_, index) => ({
      index,
      identity: options.identities?.[index] ?? generateIdentity(),
      proc: undefined,
      listening: false,
      ready: false,
      id: undefined,
      g2g: undefined,
      restarts: 0,
      startedAt: 0,
      crashes: 0,
      relays: [],
      queue: [],
      lane: undefined,
      descriptors: undefined,
      descriptorsSent: 0,
      descriptorsReceived: 0,
    }));
    this.#refused = new Counter({
      name: 'crosstalk_host_refused_connections_total',
      help: 'Client connections the host closed at once, by reason (descriptors: every worker near its limit)',
      labelNames: ['reason'],
      registers: [this.#registry],
    });
    this.#redistributed = new Counter({
      name: 'crosstalk_host_redistributed_connections_total',
      help: 'New client connections a worker near its descriptor limit passed to the primary for another worker',
      registers: [this.#registry],
    });
  }

  workers(): WorkerInfo[] {
    return this.#slots.map((s) => ({
      index: s.index,
      pid: s.proc?.pid,
      id: s.id,
      g2g: s.g2g,
      ready: s.ready,
      restarts: s.restarts,
      descriptors: s.descriptors,
    }));
  }

  on(listener: (event: ClusterEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: ClusterEvent): void {
    for (const l of this.#listeners) l(event);
  }

  async start(): Promise<void> {
    try {
      // Bound here, listened on by the workers once each is ready: a client never waits on this process.
      this.#listener = new SharedListener(this.#o.socks?.host ?? '127.0.0.1', this.#o.socks?.port ?? 1080);
      this.socks = { host: this.#listener.host, port: this.#listener.port };
      if (this.#o.metrics)
        await this.#listenMetrics(this.#o.metrics.host ?? '127.0.0.1', this.#o.metrics.port ?? 0);
      const timeout = this.#o.startTimeout ?? 60_000;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the workers did not start within ${timeout} ms`)),
          timeout,
        );
        this.#starting = {
          fail: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        };
        const check = this.on((e) => {
          if (e.type === 'worker-ready' && this.#slots.every((s) => s.ready)) {
            clearTimeout(timer);
            check();
            resolve();
          }
        });
        for (const slot of this.#slots) this.#fork(slot);
      });
      this.#starting = undefined;
      this.#sweeper = setInterval(() => this.#sweep(), 1000);
      this.#sweeper.unref();
      this.#log.info({ socks: this.socks, workers: this.#slots.length }, 'gateway host started');
    } catch (error) {
      this.#starting = undefined;
      await this.close();
      throw error;
    }
  }

  #fork(slot: Slot): void {
    const proc = fork(this.#o.exec, [...(this.#o.args ?? [])], {
      execArgv: [...(this.#o.execArgv ?? process.execArgv)],
      env: { ...(this.#o.env ?? process.env), [WORKER_INDEX_ENV]: String(slot.index) },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    slot.proc = proc;
    slot.lane = new SocketLane<ToWorker>((message, handle, callback) => {
      if (handle) proc.send(message, handle, { keepOpen: false }, callback);
      else proc.send(message, callback);
    });
    slot.listening = false;
    slot.ready = false;
    slot.descriptors = undefined;
    slot.descriptorsSent = 0;
    slot.descriptorsReceived = 0;
    slot.startedAt = Date.now();
    proc.on('message', (message: FromWorker, handle?: Socket) => this.#receive(slot, proc, message, handle));
    proc.on('error', (error) => this.#log.warn({ worker: slot.index, error: error.message }, 'worker error'));
    proc.on('exit', (code, signal) => this.#exited(slot, proc, code, signal));
  }

  #exited(slot: Slot, proc: ChildProcess, code: number | null, signal: string | null): void {
    if (slot.proc !== proc) return;
    slot.proc = undefined;
    slot.lane?.drop();
    slot.lane = undefined;
    slot.listening = false;
    const wasReady = slot.ready;
    slot.ready = false;
    // Its records are not acknowledged to its next process; the others no longer wait for it.
    for (const relay of slot.relays.splice(0)) this.#relays.delete(relay);
    for (const { waiting } of this.#relays.values()) waiting.delete(slot.index);
    for (const other of this.#slots) this.#acknowledgeCookies(other);
    this.#emit({ type: 'worker-exit', index: slot.index, pid: proc.pid ?? 0, code, signal });
    if (this.#closing) return;
    if (this.#starting) {
      this.#starting.fail(
        new WorkerStartFailedError(
          slot.index,
          `worker ${slot.index} ended before it was ready (${signal ?? `exit code ${code}`})`,
        ),
      );
      return;
    }
    this.#log.warn({ worker: slot.index, code, signal, wasReady }, 'worker ended; starting it again');
    // A worker that keeps failing at once is restarted less and less often (up to 10 s apart).
    slot.crashes = Date.now() - slot.startedAt < 30_000 ? slot.crashes + 1 : 0;
    const delay = Math.min(10_000, 250 * 2 ** Math.min(slot.crashes, 6));
    slot.restarts++;
    this.#emit({ type: 'worker-restart', index: slot.index, delay });
    setTimeout(() => {
      if (!this.#closing) this.#fork(slot);
    }, delay).unref();
  }

  #send(slot: Slot, message: ToWorker, handle?: Socket): void {
    if (!slot.ready || !slot.proc?.connected) {
      slot.queue.push({ message, handle, at: Date.now() });
      return;
    }
    this.#deliver(slot, message, handle);
  }

  #deliver(slot: Slot, message: ToWorker, handle: Socket | undefined): void {
    // A new connection may open its upstream there too; a hand-off part is one socket.
    if (handle) slot.descriptorsSent += descriptorsOf(message);
    try {
      slot.lane!.send(message, handle);
    } catch {
      handle?.destroy();
    }
  }

  /** Drops connections that waited too long for a worker that is not back. */
  #sweep(): void {
    const limit = Date.now() - (this.#o.queueTimeout ?? 30_000);
    for (const slot of this.#slots) {
      while (slot.queue.length > 0 && slot.queue[0]!.at < limit) slot.queue.shift()!.handle?.destroy();
    }
    const now = Date.now();
    for (const [key, { expires }] of this.#cookies) if (expires <= now) this.#cookies.delete(key);
  }

  /**
   * A new client connection a worker near its descriptor limit passed on: to the next worker that
   * is up and has descriptors to spare (with none up, the next in turn, where it waits). When every
   * worker that is up is near its descriptor limit the connection is closed here: a handle sent to a
   * worker that cannot take it would end this process (see `descriptorCount`), and with it every
   * worker's users.
   */
  #distribute(socket: Socket): void {
    const n = this.#slots.length;
    const start = this.#next++;
    let firstUp: Slot | undefined;
    for (let i = 0; i < n; i++) {
      const slot = this.#slots[(start + i) % n]!;
      if (!slot.ready) continue;
      firstUp ??= slot;
      if (this.#hasRoom(slot)) {
        this.#send(slot, { t: 'socks' }, socket);
        return;
      }
    }
    if (!firstUp) {
      this.#send(this.#slots[start % n]!, { t: 'socks' }, socket);
      return;
    }
    socket.destroy();
    this.#refusedForDescriptors();
  }

  /** A new connection closed for want of descriptors (every worker near its limit, or one full of them): counted, logged. */
  #refusedForDescriptors(): void {
    this.#refused.inc({ reason: 'descriptors' });
    // Logged at most every 10 s: a flood of connections must not become a flood of log lines.
    const now = Date.now();
    if (now - this.#refusedLogged >= 10_000) {
      this.#refusedLogged = now;
      this.#log.warn(
        { workers: this.#slots.map((s) => s.descriptors) },
        'workers near their descriptor limit: closing new connections',
      );
    }
  }

  /** Whether a worker can take another connection without nearing its descriptor limit. */
  #hasRoom(slot: Slot): boolean {
    const d = slot.descriptors;
    if (!d) return true;
    const onTheWay = slot.descriptorsSent - slot.descriptorsReceived;
    return d.open + onTheWay + descriptorReserve(d.limit) < d.limit;
  }

  /** Acknowledges to a worker, in order, its cookie records every other worker confirmed. */
  #acknowledgeCookies(slot: Slot): void {
    let seq: number | undefined;
    while (slot.relays.length > 0) {
      const relay = this.#relays.get(slot.relays[0]!);
      if (relay && relay.waiting.size > 0) break;
      this.#relays.delete(slot.relays.shift()!);
      if (relay) seq = relay.seq;
    }
    if (seq !== undefined && slot.proc?.connected)
      slot.proc.send({ t: 'cookie-ack', seq } satisfies ToWorker);
  }

  #receive(slot: Slot, proc: ChildProcess, message: FromWorker, handle: Socket | undefined): void {
    if (slot.proc !== proc) {
      handle?.destroy();
      return;
    }
    switch (message.t) {
      case 'hello':
        slot.listening = true;
        proc.send({
          t: 'init',
          index: slot.index,
          count: this.#slots.length,
          socks: this.socks,
          identity: slot.identity.exportPrivateKey(),
          ...(this.#dht ? { dht: this.#dht.limits } : {}),
          cookies: [...this.#cookies.values()].map((c) => c.op),
        } satisfies ToWorker);
        // A small message of its own: a handle sent with a large one never arrives (see messages.ts).
        if (this.#listener)
          proc.send({ t: 'listen' } satisfies ToWorker, this.#listener.handle as unknown as Socket);
        return;
      case 'ready':
        slot.ready = true;
        slot.id = message.id;
        slot.g2g = message.g2g;
        for (const q of slot.queue.splice(0)) this.#deliver(slot, q.message, q.handle);
        this.#emit({ type: 'worker-ready', index: slot.index, pid: proc.pid ?? 0, id: message.id });
        this.#log.info({ worker: slot.index, pid: proc.pid, id: message.id }, 'worker ready');
        return;
      case 'failed':
        this.#log.error({ worker: slot.index, reason: message.message }, 'worker could not start');
        this.#starting?.fail(new WorkerStartFailedError(slot.index, message.message));
        return;
      case 'cookie': {
        const key = `${message.protocol}\u0000${message.cookie}`;
        if (message.op === 'record')
          this.#cookies.set(key, { op: message, expires: Date.now() + COOKIE_TTL });
        else this.#cookies.delete(key);
        // A record is acknowledged once every other worker confirmed it: the client hears of the
        // cookie only then, and its next connection may be accepted by any of them.
        const seq = message.op === 'record' ? message.seq : undefined;
        const relay = seq !== undefined ? ++this.#relaySeq : undefined;
        const waiting = new Set<number>();
        for (const other of this.#slots) {
          if (other === slot || !other.listening || !other.proc?.connected) continue;
          other.proc.send(relay === undefined ? message : { ...message, relay });
          waiting.add(other.index);
        }
        if (relay !== undefined) {
          this.#relays.set(relay, { from: slot, seq: seq!, waiting });
          slot.relays.push(relay);
          this.#acknowledgeCookies(slot);
        }
        return;
      }
      case 'cookie-applied': {
        const relay = this.#relays.get(message.relay);
        if (!relay) return;
        relay.waiting.delete(slot.index);
        this.#acknowledgeCookies(relay.from);
        return;
      }
      case 'dht': {
        const dht = this.#dht;
        if (!dht) return;
        void answerDht(dht, message).then((reply) => {
          if (proc.connected) proc.send(reply);
        });
        return;
      }
      case 'refused':
        this.#refusedForDescriptors();
        return;
      case 'redistribute':
        if (!handle) return;
        stopReading(handle);
        this.#redistributed.inc();
        this.#distribute(handle);
        return;
      case 'handoff-socks':
      case 'handoff-client':
      case 'handoff-session':
      case 'handoff-upstream': {
        // The socket must not be read here: it is passed on as it is (see `stopReading`).
        if (handle) stopReading(handle);
        const to = this.#slots[message.to];
        if (!to) {
          handle?.destroy();
          return;
        }
        this.#send(to, message as ToWorker, handle);
        return;
      }
      case 'metrics-reply':
        this.#metricsWaiting.get(message.seq)?.(message.metrics);
        return;
      case 'descriptors':
        slot.descriptors = { open: message.open, limit: message.limit };
        slot.descriptorsReceived = message.received;
        return;
      default:
        return;
    }
  }

  async #metrics(): Promise<string> {
    const replies = await Promise.all(
      this.#slots
        .filter((s) => s.ready && s.proc?.connected)
        .map(
          (s) =>
            new Promise<unknown>((resolve) => {
              const seq = ++this.#metricsSeq;
              // A worker busy at its limit answers late, not never: counters summed without it would
              // go backwards.
              const timer = setTimeout(() => {
                this.#metricsWaiting.delete(seq);
                resolve(undefined);
              }, 30_000);
              this.#metricsWaiting.set(seq, (m) => {
                clearTimeout(timer);
                this.#metricsWaiting.delete(seq);
                resolve(m);
              });
              s.proc!.send({ t: 'metrics', seq } satisfies ToWorker);
            }),
        ),
    );
    const all = replies.filter((r): r is object[] => Array.isArray(r));
    all.push(await this.#registry.getMetricsAsJSON());
    return AggregatorRegistry.aggregate(all as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
  }

  async #listenMetrics(host: string, port: number): Promise<void> {
    const server = createHttpServer(async (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(await this.#metrics());
        return;
      }
      if (path === '/workers.json') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(`${JSON.stringify({ socks: this.socks, workers: this.workers() }, null, 2)}\n`);
        return;
      }
      res.writeHead(404).end('try /metrics or /workers.json\n');
    });
    server.listen(port, host);
    await once(server, 'listening');
    this.#http = server;
    this.metricsAddress = { host, port: (server.address() as { port: number }).port };
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#sweeper);
    // The port is free once the workers, which close theirs first, have ended too.
    this.#listener?.close();
    this.#listener = undefined;
    const exits = this.#slots
      .filter((s) => s.proc && s.proc.exitCode === null && s.proc.signalCode === null)
      .map(async (s) => {
        const proc = s.proc!;
        const exited = once(proc, 'exit');
        try {
          if (proc.connected) proc.send({ t: 'shutdown' } satisfies ToWorker);
          else proc.kill('SIGTERM');
        } catch {
          proc.kill('SIGTERM');
        }
        const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      });
    await Promise.all(exits);
    for (const s of this.#slots) for (const q of s.queue.splice(0)) q.handle?.destroy();
    if (this.#http) {
      const httpClosed = once(this.#http, 'close');
      this.#http.close();
      this.#http.closeAllConnections();
      await httpClosed;
    }
    if (this.#dht && this.#o.dht === undefined) await this.#dht.close();
    this.#log.info({}, 'gateway host stopped');
  }
}
