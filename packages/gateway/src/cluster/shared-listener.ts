import * as net from 'node:net';
import { getSystemErrorName } from 'node:util';

/** A bound TCP socket's handle, as Node's `net` makes it for its cluster module. */
interface ServerHandle {
  getsockname(out: { port?: number }): number;
  close(): void;
}

type CreateServerHandle = (address: string, port: number, addressType: number) => ServerHandle | number;

/**
 * The host's SOCKS socket, bound here and listened on by the workers only: each worker accepts its
 * own connections (the kernel gives each to one of them), so the primary is not on the path of a
 * new connection, and this process, which holds the socket without watching it, keeps it open and
 * listening while workers end and restart (connections wait in the kernel's backlog meanwhile).
 * Node's cluster module shares a listener this way (`SharedHandle`, lib/internal/cluster); a
 * `net.Server` would accept here too, and an idle primary wins most of the race for each
 * connection.
 */
export class SharedListener {
  /** The raw handle, passed to each worker (`child.send(message, handle)`). */
  readonly handle: ServerHandle;
  /** The bound address. */
  readonly host: string;
  /** The bound port (the chosen one when 0 was asked for). */
  readonly port: number;

  constructor(host: string, port: number) {
    const create = (net as unknown as { _createServerHandle?: CreateServerHandle })._createServerHandle;
    if (typeof create !== 'function')
      throw new Error(
        'this Node has no net._createServerHandle, which a host of workers shares its listener with',
      );
    const made = create(host, port, net.isIPv6(host) ? 6 : 4);
    if (typeof made === 'number') throw listenError(made, host, port);
    const out: { port?: number } = {};
    const error = made.getsockname(out);
    if (error) {
      made.close();
      throw listenError(error, host, port);
    }
    this.handle = made;
    this.host = host;
    this.port = out.port ?? port;
  }

  /** Closes this process's copy: once the workers closed theirs, the port is free. */
  close(): void {
    this.handle.close();
  }
}

/** The error `net.Server#listen` would emit for the same failure (same `code`, `syscall`, `port`). */
function listenError(errno: number, host: string, port: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno);
  return Object.assign(new Error(`listen ${code}: ${host}:${port}`), {
    code,
    errno,
    syscall: 'listen',
    address: host,
    port,
  });
}
