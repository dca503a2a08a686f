/**
 * The sending side of `bench/client-api.ts`'s getFile across processes: a client-API user in a
 * process of its own (the directory on a hyperdht testnet, G2G over TCP with Noise and the file's
 * bytes on a TLS-PSK data channel, as in one
 * process), holding the bench's file, and the sending end of the plain TCP copy of the same bytes.
 *
 *   node --import tsx --conditions=@crosstalk/source bench/lib/file-sender-process.ts '{"mb":64,"bootstrap":[...]}'
 *
 * Prints `{"ready": {sha256}}`, then answers one JSON command per line on stdin, one JSON line each:
 * `{"offer": "bob@aol"}` -> `{"offered": id}`; `{"withdraw": id}` -> `{"withdrawn": id}`;
 * `{"tcp": port}` (write the file to 127.0.0.1:port, 256 KiB at a time, waiting for drain) ->
 * `{"copied": true}`; `{"tls": port, "psk": hex}` (the same over TLS-PSK, `secure-copy.ts`) ->
 * `{"copied": true}`; `{"cpu": true}` -> `{"cpu": ms of CPU this process used so far}`;
 * `{"channels": true}` -> `{"channels": data channels alice's node opened so far}`.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { parseAddress } from '@crosstalk/core';
import { HyperDhtStore } from '@crosstalk/network-hyperdht';
import { bytesSource, createClient } from '@crosstalk/shim';
import { secureWrite } from './secure-copy.js';

const options = JSON.parse(process.argv[2] ?? '{}') as {
  mb: number;
  bootstrap: { host: string; port: number }[];
};
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const data = randomBytes(options.mb * 1024 * 1024);
const sha256 = createHash('sha256').update(data).digest('hex');
const dht = new HyperDhtStore({ bootstrap: options.bootstrap, host: '127.0.0.1' });
await dht.ready();
const alice = await createClient({ identity: { address: parseAddress('alice@aol') }, network: 'aol', dht });
say({ ready: { sha256 } });

async function copy(port: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  for (let at = 0; at < data.length; at += 256 * 1024) {
    if (!socket.write(data.subarray(at, at + 256 * 1024)))
      await new Promise((resolve) => socket.once('drain', resolve));
  }
  await new Promise<void>((resolve) => socket.end(resolve));
}

const lines = createInterface({ input: process.stdin });
lines.on('close', () => {
  void alice
    .close()
    .then(() => dht.close())
    .finally(() => process.exit(0));
});
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line) as {
    offer?: string;
    withdraw?: string;
    tcp?: number;
    tls?: number;
    psk?: string;
    cpu?: true;
    channels?: true;
  };
  if (command.offer) {
    // sendFile's one pass over the file (its SHA-256 and chunk-hash list), before the timed getFile.
    const offer = await alice.sendFile(parseAddress(command.offer), bytesSource('bench.bin', data));
    say({ offered: offer.id });
  } else if (command.withdraw) {
    await alice.withdrawFile(command.withdraw);
    say({ withdrawn: command.withdraw });
  } else if (command.tcp) {
    await copy(command.tcp);
    say({ copied: true });
  } else if (command.tls && command.psk) {
    await secureWrite(command.tls, command.psk, data);
    say({ copied: true });
  } else if (command.cpu) {
    const { user, system } = process.cpuUsage();
    say({ cpu: (user + system) / 1000 });
  } else if (command.channels) {
    say({ channels: alice.dataChannelStats.opened });
  }
}
