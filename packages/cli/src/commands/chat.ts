import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import {
  type Address,
  type CrossTalkClient,
  formatAddress,
  isCrossTalkError,
  isDomainNetwork,
  parseAddress,
} from '@crosstalk/core';
import { parseHostPort, parseHostPortList } from '@crosstalk/gateway';
import { type ClientOptions, createClient, createShim, type ServedReport } from '@crosstalk/shim';
import { xmppBase } from '@crosstalk/shim/xmpp';
import pino from 'pino';
import { ChatSession } from '../chat/session.js';
import { canonicalForm } from '../codecs.js';
import { type CliIo, write } from '../io.js';

/** Options of `crosstalk chat`, as commander hands them over. */
export interface ChatCommandOptions {
  as: string;
  name?: string;
  server?: string;
  passwordEnv?: string;
  passwordFile?: string;
  ca?: string;
  directTls?: boolean;
  sasl?: string;
  state?: string;
  dht?: string;
  bootstrap?: string;
  g2g?: string;
  downloads?: string;
  logLevel?: string;
}

/** Exit code when the chat cannot start (a login refused, TLS that does not verify, a DHT it cannot join). */
export const EXIT_CHAT_FAILED = 3;

/** Exit code when the base connection (XMPP) was lost during the chat. */
export const EXIT_CHAT_LOST = 4;

/** The environment variable the XMPP password is read from by default. */
export const PASSWORD_ENV = 'CROSSTALK_PASSWORD';

/**
 * `crosstalk chat --as <address>`: a line-oriented chat on the client API. An XMPP address
 * (`alice@jabber.example`) logs in to the user's own server over TLS and goes on CrossTalk through
 * the shim (`createShim` with the XMPP base client); any other address is a client-API user on a
 * node of its own (`createClient`). Runs until `/quit`, the end of input, or SIGINT/SIGTERM.
 */
export async function chat(o: ChatCommandOptions, io: CliIo): Promise<number> {
  const fail = async (message: string) => {
    await write(io.stderr, `crosstalk chat: ${message}\n`);
    return EXIT_CHAT_FAILED;
  };
  let user: Address;
  try {
    user = parseAddress(o.as);
  } catch (error) {
    return fail(`--as ${o.as}: ${describe(error)}`);
  }
  // Resolves when the chat should end on its own (the base connection lost, a signal).
  const ended = deferred();
  let lost: Error | undefined;
  let session: ChatSession | undefined;
  let client: CrossTalkClient & { close(): Promise<void> };
  let banner: string;
  try {
    const options = await nodeOptions(o, (report) => session?.served(report));
    if (isDomainNetwork(user.network)) {
      const password = await readPassword(o);
      const base = xmppBase({
        jid: formatAddress(user),
        password,
        ...(o.server ? { service: `${o.directTls ? 'xmpps' : 'xmpp'}://${serverAddress(o.server)}` } : {}),
        tls: {
          ...(o.directTls ? { mode: 'direct' as const } : {}),
          ...(o.ca ? { ca: await readFile(o.ca, 'utf8') } : {}),
        },
        ...(o.sasl ? { mechanism: o.sasl } : {}),
      });
      const shim = await createShim({
        ...options,
        base,
        ...(o.name ? { name: o.name } : {}),
        onClosed: (reason) => {
          lost = reason;
          void write(io.stderr, `crosstalk chat: ${reason.message}\n`);
          ended.resolve();
        },
      });
      client = shim;
      banner = `* logged in as ${formatAddress(user)}: XMPP over ${base.tls?.protocol ?? 'TLS'}, node ${shim.node.id.slice(0, 12)}…`;
    } else {
      const c = await createClient({
        ...options,
        identity: o.name ? { address: user, name: o.name } : { address: user },
        network: user.network,
      });
      client = c;
      banner = `* logged in as ${formatAddress(user)}: client-API node ${c.node.id.slice(0, 12)}…`;
    }
  } catch (error) {
    return fail(
      `cannot start as ${o.as}: ${describe(error)}${isCrossTalkError(error) ? ` (${error.code})` : ''}`,
    );
  }

  const tty = Boolean((io.stdout as { isTTY?: boolean }).isTTY);
  session = new ChatSession({
    client,
    out: (text) => void write(io.stdout, text).catch(() => {}),
    tty,
    downloads: o.downloads ?? io.cwd ?? process.cwd(),
  });
  await write(io.stdout, `${banner}\n`);
  if (!o.bootstrap && o.dht !== 'hyperdht')
    await write(
      io.stdout,
      '* no --bootstrap: this node is alone (an in-memory directory); --dht hyperdht --bootstrap host:port joins a CrossTalk network\n',
    );
  await write(io.stdout, '* type /help for the commands\n');

  const lines = createInterface({ input: io.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  const onSignal = () => ended.resolve();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const reading = (async () => {
      for await (const line of lines) {
        if ((await session.line(line)) === 'quit') break;
      }
    })();
    await Promise.race([reading, ended.promise]);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    lines.close();
    await session.stop();
    await client.close();
  }
  await write(io.stdout, '* logged out\n');
  return lost ? EXIT_CHAT_LOST : 0;
}

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve: () => resolve() };
}

/** The node's options from the flags: its state file, its directory and G2G, the federation's event form. */
async function nodeOptions(
  o: ChatCommandOptions,
  onServed: (report: ServedReport) => void,
): Promise<Omit<ClientOptions, 'identity' | 'network'>> {
  const hyperdht = o.dht === 'hyperdht' || (o.dht === undefined && o.bootstrap !== undefined);
  if (o.dht !== undefined && o.dht !== 'memory' && o.dht !== 'hyperdht')
    throw new Error(`--dht ${o.dht}: memory or hyperdht`);
  if (hyperdht && !o.bootstrap) throw new Error('--dht hyperdht needs --bootstrap host:port[,host:port]');
  const logger =
    o.logLevel && o.logLevel !== 'silent'
      ? pino({ name: 'crosstalk-chat', level: o.logLevel }, process.stderr)
      : false;
  return {
    canonical: canonicalForm(),
    logger,
    files: { onServed },
    ...(o.state ? { stateFile: o.state } : {}),
    ...(hyperdht
      ? { hyperdht: { bootstrap: parseHostPortList(o.bootstrap!).map((e) => parseHostPort(e)) } }
      : {}),
    ...(o.g2g && !hyperdht ? { g2g: parseHostPort(o.g2g) } : {}),
  };
}

/** The XMPP password: from `--password-file`, else the environment (`--password-env`, default `CROSSTALK_PASSWORD`). */
async function readPassword(o: ChatCommandOptions): Promise<string> {
  if (o.passwordFile) return (await readFile(o.passwordFile, 'utf8')).replace(/\r?\n$/, '');
  const name = o.passwordEnv ?? PASSWORD_ENV;
  const password = process.env[name];
  if (!password) throw new Error(`no password: set ${name} (or --password-file <file>)`);
  return password;
}

/** `host:port` as the service's authority (an IPv6 host in brackets). */
function serverAddress(s: string): string {
  const { host, port } = parseHostPort(s);
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
