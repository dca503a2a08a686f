/**
 * The floor of an encrypted, verified file transfer on this machine, for `bench/client-api.ts`: the
 * same bytes over TLS 1.2 with a pre-shared key and AES-256-GCM (node:tls on OpenSSL, AES-NI), the
 * receiver hashing everything with SHA-256 as getFile does. No file protocol, no G2G, no Noise:
 * what any transfer that encrypts, authenticates and checks a digest costs here at the least.
 */
import { createHash, randomBytes } from 'node:crypto';
import tls from 'node:tls';

const TLS = { ciphers: 'PSK-AES256-GCM-SHA384', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;
const IDENTITY = 'bench';

/** A fresh pre-shared key (hex) for one copy. */
export const newPsk = (): string => randomBytes(32).toString('hex');

/** A TLS-PSK listener on 127.0.0.1 that hashes what arrives; `received` resolves with the SHA-256 once `bytes` have. */
export async function secureSink(
  bytes: number,
  psk: string,
): Promise<{ listener: tls.Server; port: number; received: Promise<string> }> {
  let done!: (sha256: string) => void;
  const received = new Promise<string>((resolve) => {
    done = resolve;
  });
  const key = Buffer.from(psk, 'hex');
  const listener = tls.createServer(
    { ...TLS, pskCallback: (_socket, id) => (id === IDENTITY ? key : null) },
    (socket) => {
      const hash = createHash('sha256');
      let got = 0;
      socket.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        got += chunk.length;
        if (got >= bytes) done(hash.digest('hex'));
      });
      socket.on('error', () => {});
    },
  );
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return { listener, port: (listener.address() as { port: number }).port, received };
}

/** Writes `data` to a {@link secureSink} at 127.0.0.1:`port`, 256 KiB at a time, waiting for drain. */
export async function secureWrite(port: number, psk: string, data: Uint8Array): Promise<void> {
  const key = Buffer.from(psk, 'hex');
  const socket = tls.connect({
    ...TLS,
    host: '127.0.0.1',
    port,
    pskCallback: () => ({ psk: key, identity: IDENTITY }),
    checkServerIdentity: () => undefined,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  for (let at = 0; at < data.length; at += 256 * 1024) {
    if (!socket.write(data.subarray(at, at + 256 * 1024)))
      await new Promise((resolve) => socket.once('drain', resolve));
  }
  await new Promise<void>((resolve) => socket.end(resolve));
}
