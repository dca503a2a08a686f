import { createRequire } from 'node:module';

/**
 * Counts every datagram the hyperdht nodes of this process send, for the calibration against a real
 * testnet: requests by command, replies by the command they answer, and bytes. It wraps UDX's
 * `trySend`, through which dht-rpc sends every request and reply (dht-rpc lib/io.js), and reads
 * the message header dht-rpc writes (lib/io.js `_encodeRequest`, `_sendReply`): a type byte
 * (request 0x03, reply 0x13), flags, a u16 transaction id, the peer's IPv4 address, then optional
 * id and token, then (requests only) the command.
 */

const REQUEST_ID = 0x03;
const RESPONSE_ID = 0x13;

/** hyperdht's commands (lib/constants.js) and dht-rpc's internal ones (lib/commands.js). */
const USER_COMMANDS = [
  'peer-handshake',
  'peer-holepunch',
  'find-peer',
  'lookup',
  'announce',
  'unannounce',
  'mutable-put',
  'mutable-get',
  'immutable-put',
  'immutable-get',
  'plugin',
];
const INTERNAL_COMMANDS = ['ping', 'ping-nat', 'find-node', 'down-hint'];

/** Requests and replies of one command: datagrams and bytes. */
export interface CommandTally {
  requests: number;
  replies: number;
  requestBytes: number;
  replyBytes: number;
}

/** Datagrams and bytes, per command. */
export interface WireTally {
  commands: Map<string, CommandTally>;
  /** Datagrams that were neither (holepunching, UDX streams). */
  other: number;
}

export const emptyTally = (): WireTally => ({ commands: new Map(), other: 0 });

const sum = (t: WireTally, f: (c: CommandTally) => number) =>
  [...t.commands.values()].reduce((a, c) => a + f(c), 0);
/** Every request and reply counted. */
export const tallyMessages = (t: WireTally) => sum(t, (c) => c.requests + c.replies);
/** Their bytes (UDP payloads). */
export const tallyBytes = (t: WireTally) => sum(t, (c) => c.requestBytes + c.replyBytes);

function entry(t: WireTally, name: string): CommandTally {
  let c = t.commands.get(name);
  if (!c) {
    c = { requests: 0, replies: 0, requestBytes: 0, replyBytes: 0 };
    t.commands.set(name, c);
  }
  return c;
}

interface UdxSocketLike {
  trySend(buffer: Uint8Array, port: number, host: string, ttl?: number): unknown;
  address(): { port: number };
}

/**
 * Starts counting; `take()` returns what was counted since the last call and starts afresh;
 * `stop()` restores UDX. One counter at a time.
 */
export function countWire(): { take(): WireTally; stop(): void } {
  // The UDXSocket class dht-rpc's own copy of udx-native uses (lib/socket.js exports it).
  const require = createRequire(createRequire(import.meta.url).resolve('dht-rpc'));
  const UDXSocket = require(require.resolve('udx-native/lib/socket.js')) as { prototype: UdxSocketLike };
  const proto = UDXSocket.prototype;
  const original = proto.trySend;
  let tally = emptyTally();
  /** Requests in flight, by requester port and transaction id: what their replies answer. */
  const pending = new Map<string, string>();
  proto.trySend = function (this: UdxSocketLike, buffer, port, host, ttl) {
    count(this, buffer, port);
    return original.call(this, buffer, port, host, ttl);
  };

  function count(socket: UdxSocketLike, b: Uint8Array, _port: number): void {
    if (b.length < 10 || (b[0] !== REQUEST_ID && b[0] !== RESPONSE_ID)) {
      tally.other++;
      return;
    }
    const flags = b[1]!;
    const tid = b[2]! | (b[3]! << 8);
    if (b[0] === REQUEST_ID) {
      let at = 10 + (flags & 1 ? 32 : 0) + (flags & 2 ? 32 : 0);
      const command = b[at++]!;
      const name = (flags & 4 ? INTERNAL_COMMANDS : USER_COMMANDS)[command] ?? `command-${command}`;
      const c = entry(tally, name);
      c.requests++;
      c.requestBytes += b.length;
      let from = 0;
      try {
        from = socket.address().port;
      } catch {}
      pending.set(`${from}:${tid}`, name);
      if (pending.size > 100_000) pending.clear();
      return;
    }
    // A reply names the requester's address (as the replier saw it) and the transaction id.
    const requesterPort = b[8]! | (b[9]! << 8);
    const name = pending.get(`${requesterPort}:${tid}`) ?? 'unknown';
    const c = entry(tally, name);
    c.replies++;
    c.replyBytes += b.length;
  }

  return {
    take() {
      const out = tally;
      tally = emptyTally();
      return out;
    },
    stop() {
      proto.trySend = original;
    },
  };
}
