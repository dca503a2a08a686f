import { createServer, type Server, Socket } from 'node:net';

/** One write seen by the tap, in the transcript form `readTranscript` reads. */
export interface TapWrite {
  seq: number;
  conn: string;
  dir: 'C>S' | 'S>C';
  hex: string;
  note: string;
}

/**
 * A TCP relay on 127.0.0.1 in front of a server that records every chunk each side writes, in the
 * order they arrive: how the login goldens under test/fixtures were captured from real programs.
 */
export async function startTap(
  upstream: { host: string; port: number },
  conn: string,
): Promise<{ port: number; writes: TapWrite[]; close(): Promise<void> }> {
  const writes: TapWrite[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const server = new Socket();
    sockets.add(client).add(server);
    const record = (dir: TapWrite['dir']) => (chunk: Buffer) =>
      writes.push({ seq: writes.length, conn, dir, hex: chunk.toString('hex'), note: '' });
    client.on('data', record('C>S'));
    server.on('data', record('S>C'));
    client.pipe(server).pipe(client);
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
    server.connect(upstream.port, upstream.host);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    writes,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
