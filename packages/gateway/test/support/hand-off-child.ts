/**
 * A process a socket is handed to or from, for cluster.test.ts (run from source with tsx):
 *
 *   hand-off-child.ts send <host> <port> <bytes>   connects, reads at least <bytes>, stops reading
 *                                                  and sends the socket to its parent (as a worker
 *                                                  hands a connection to the primary), with what it
 *                                                  read
 *   hand-off-child.ts take                         takes a socket from its parent, reads it to the
 *                                                  end, and sends back what it read
 */
import { connect, type Socket } from 'node:net';
import { stopReading } from '../../src/engine/connection.js';

const [mode, host, port, bytes] = process.argv.slice(2);

if (mode === 'send') {
  const socket = connect(Number(port), host!);
  const read: Buffer[] = [];
  let total = 0;
  const onData = (chunk: Buffer) => {
    read.push(chunk);
    total += chunk.length;
    if (total < Number(bytes)) return;
    socket.off('data', onData);
    read.push(...stopReading(socket));
    // The bytes first, then the socket in a small message of its own, as a worker hands it on.
    process.send!({ t: 'read', bytes: Buffer.concat(read) });
    process.send!({ t: 'socket' }, socket, { keepOpen: false }, () => socket.destroy());
  };
  socket.on('data', onData);
} else {
  process.on('message', (_m: unknown, socket?: Socket) => {
    if (!socket) return;
    const read: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => read.push(chunk));
    socket.on('end', () => {
      process.send!({ t: 'read', bytes: Buffer.concat(read) });
    });
  });
}
