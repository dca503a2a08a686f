import { type CodecRegistry, type Direction, isCrossTalkError } from '@crosstalk/core';
import { Command, Option } from 'commander';
import { CHAT_COMMANDS } from './chat/commands.js';
import { CodecSet } from './codec-modules/load.js';
import { defaultRegistry } from './codecs.js';
import { type ChatCommandOptions, chat, PASSWORD_ENV } from './commands/chat.js';
import { decode } from './commands/decode.js';
import { type DhtNodeCommandOptions, dhtNode } from './commands/dht-node.js';
import { encode } from './commands/encode.js';
import { type GatewayCommandOptions, gateway } from './commands/gateway.js';
import { protocols } from './commands/protocols.js';
import { type RouteCommandOptions, route } from './commands/route.js';
import { type SipExitCommandOptions, sipExit } from './commands/sip-exit.js';
import { runDemo } from './demo/demo.js';
import { demoNetworks } from './demo/networks.js';
import { type CliIo, processIo } from './io.js';

const VERSION = '0.1.0';

function protocolOption(registry: CodecRegistry): Option {
  const known = registry.protocols();
  const help = known.length
    ? `protocol of the stream: ${known.join(', ')}, or one a --codec module defines`
    : 'protocol of the stream (no codecs are built in; load one with --codec)';
  return new Option('-p, --protocol <protocol>', help).makeOptionMandatory();
}

/** `--codec <module>`, repeatable: a third-party codec module to load (a package name or a path). */
const codecOption = () =>
  new Option(
    '--codec <module>',
    'load a third-party codec: a package name (resolved from the current directory) or a path; repeatable',
  ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);

/** The command's codecs: the registry's and those `--codec` names, loaded (typed errors name what is wrong). */
function loadCodecs(registry: CodecRegistry, modules: string[] | undefined, io: CliIo): Promise<CodecSet> {
  return new CodecSet(registry, io.cwd ? { cwd: io.cwd } : {}).loadAll(modules);
}

/** `-p` names a protocol of the loaded codecs, or the command stops with a usage error (exit 1). */
function checkProtocol(command: Command, codecs: CodecSet, protocol: string): void {
  if (codecs.registry.has(protocol)) return;
  const known = codecs.registry.protocols();
  command.error(
    `error: unknown protocol "${protocol}"; ` +
      `${known.length ? `known: ${known.join(', ')}` : 'no codecs are loaded'} ` +
      '(load a third-party codec with --codec <package or path>)',
  );
}

const directionOption = () =>
  new Option(
    '-d, --direction <side>',
    'who sent the bytes: client (client -> server) or server (server -> client)',
  )
    .choices(['client', 'server'])
    .makeOptionMandatory();

/**
 * The `crosstalk` command tree. `io` and `registry` are injectable so tests run commands in-process;
 * `exit` receives each command's exit code.
 */
export function createProgram(
  options: { io?: CliIo; registry?: CodecRegistry; exit?: (code: number) => void } = {},
): Command {
  const io = options.io ?? processIo();
  const registry = options.registry ?? defaultRegistry();
  const exit =
    options.exit ??
    ((code: number) => {
      process.exitCode = code;
    });
  const program = new Command('crosstalk')
    // Help text: prose is one paragraph that commander wraps to the terminal; anything laid out by
    // hand (formats, examples) goes in addHelpText and stays within 80 columns.
    .description(
      'CrossTalk: interconnect IM networks. Decode and encode AIM/ICQ (OSCAR), Yahoo (YMSG), ' +
        'MSN (MSNP) and XMPP streams, and run bypass gateways.',
    )
    .version(VERSION)
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)')
    // Commands report exit codes instead of calling process.exit, so the CLI is embeddable.
    .exitOverride();

  program
    .command('decode')
    .summary('bytes on stdin -> frames and events as JSON lines')
    .description(
      'Read a byte stream on stdin (what the client or the server sent) and print one JSON line per ' +
        'frame, with the canonical events it carries.',
    )
    .addOption(protocolOption(registry))
    .addOption(directionOption())
    .addOption(codecOption())
    .addOption(new Option('-i, --input <format>', 'stdin format').choices(['hex', 'raw']).default('raw'))
    .option('--self <address>', 'the logged-in user (user@network), when the stream does not show the login')
    .addHelpText(
      'after',
      '\nOutput, one line per frame:\n' +
        '  {"frame": {...}, "events": [...], "bytes": "<hex>"}\n' +
        'On a protocol error: {"error": {"name", "message", "offset"}}, exit 2.\n' +
        '\nExamples:\n' +
        '  printf "2a05000100 00" | crosstalk decode -p oscar -d client -i hex\n' +
        '  crosstalk decode -p oscar -d client -i hex \\\n' +
        '    < fixtures/streams/oscar-client.hex\n' +
        '  crosstalk decode --codec @acme/codec-irc -p irc -d client < irc.raw',
    )
    .action(
      async (
        o: { protocol: string; direction: Direction; input: 'hex' | 'raw'; self?: string; codec?: string[] },
        command: Command,
      ) => {
        const codecs = await loadCodecs(registry, o.codec, io);
        checkProtocol(command, codecs, o.protocol);
        exit(await decode(codecs.registry, o, io));
      },
    );

  program
    .command('encode')
    .summary('JSON lines on stdin (events or frames) -> bytes')
    .description(
      'Read JSON lines on stdin, each a canonical event or a frame, and write the bytes the ' +
        'protocol carries them as.',
    )
    .addOption(protocolOption(registry))
    .addOption(directionOption())
    .addOption(codecOption())
    .addOption(new Option('-o, --output <format>', 'stdout format').choices(['hex', 'raw']).default('hex'))
    .option('--self <address>', 'the logged-in user (user@network), for events that need it')
    .addHelpText(
      'after',
      '\nInput, one per line:\n' +
        '  {"event": {...}}  a canonical event, encoded as the protocol carries it in\n' +
        '                    that direction (client: as the client would send it)\n' +
        '  {"frame": {...}}  a frame as `crosstalk decode` prints it\n' +
        'On bad input: {"error": {...}} on stderr, exit 2.\n' +
        '\nExamples:\n' +
        `  echo '{"event":{"kind":"typing","from":"a@aol","to":"b@yahoo",' \\\n` +
        `    '"state":"composing"}}' | crosstalk encode -p ymsg -d server\n` +
        '  crosstalk encode -p ymsg -d server < fixtures/streams/events.jsonl',
    )
    .action(
      async (
        o: { protocol: string; direction: Direction; output: 'hex' | 'raw'; self?: string; codec?: string[] },
        command: Command,
      ) => {
        const codecs = await loadCodecs(registry, o.codec, io);
        checkProtocol(command, codecs, o.protocol);
        exit(await encode(codecs.registry, o, io));
      },
    );

  program
    .command('gateway')
    .summary('run a bypass gateway (a SOCKS4 proxy for IM clients)')
    .description(
      'Run a bypass gateway: a SOCKS4/4a proxy for unmodified IM clients that passes same-network ' +
        'traffic untouched and carries traffic to buddies on other networks between gateways.',
    )
    .option('-c, --config <file>', 'JSON config file (flags override it)')
    .option('--socks <host:port>', 'SOCKS4 listen address', undefined)
    .option('--g2g <host:port>', 'gateway-to-gateway listen address')
    .option('--metrics <host:port|off>', 'metrics (/metrics) and status page (/)')
    .option('--state <file>', 'hard-state file (key pair, foreign buddies, held requests)')
    .addOption(codecOption())
    .option(
      '--codecs <list>',
      'comma-separated protocols (or codec modules) to proxy (default: all, with those --codec loads)',
    )
    .addOption(
      new Option('--dht <kind>', 'directory substrate: memory (one process) or hyperdht').choices([
        'memory',
        'hyperdht',
      ]),
    )
    .option('--bootstrap <list>', 'hyperdht bootstrap nodes, host:port[,host:port] (implies --dht hyperdht)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .option(
      '--plugin <name>',
      'run a plugin: location or music (repeatable)',
      (name: string, list: string[] = []) => [...list, name],
    )
    .option('--soft-ttl <ms>', 'lifetime of location and presence records (default 60000)')
    .option(
      '--workers <n>',
      'worker processes behind the one SOCKS address, each a gateway of its own (default: the number of cores)',
    )
    .option(
      '--canonical <list>',
      'G2G canonical forms, preferred first: xmpp-stanza (default), json, or both',
    )
    .addHelpText(
      'after',
      '\nDefaults: SOCKS4 on 127.0.0.1:1080, G2G on 127.0.0.1 (any port), no metrics,\n' +
        'in-memory DHT, all codecs, no plugins, one worker per core. Exits 3 if it cannot\n' +
        'start (port in use).\n' +
        'A plugin is off for a user until they IM crosstalk@crosstalk "/plugins on NAME"\n' +
        '(or the config file turns it on for them: plugins[].enabledFor).\n' +
        '\nA third-party codec, proxied with the built-in ones:\n' +
        '  crosstalk gateway --codec @acme/codec-irc\n' +
        '\nGateways on several hosts share a hyperdht network:\n' +
        '  crosstalk dht-node --port 49737\n' +
        '  crosstalk gateway --dht hyperdht --bootstrap 127.0.0.1:49737',
    )
    .action(async (o: GatewayCommandOptions) => {
      exit(await gateway(registry, o, io));
    });

  program
    .command('route')
    .summary('the chain of translations from one network to another')
    .description(
      'Read the capability records gateways advertise in the shared directory and print the cheapest ' +
        'chain of translations from a network (or protocol) to another: each step with the gateway ' +
        'that performs it, its cost and the features it keeps, and what the chain loses.',
    )
    .requiredOption('--from <network>', "the sender's network or protocol (aim, aol, yahoo, oscar, ...)")
    .requiredOption('--to <network>', "the recipient's network or protocol (irc, msn, ...)")
    .option(
      '--require <features>',
      'features every step must keep, comma-separated (typing, im.html, ...); repeatable',
      (value: string, list: string[] = []) => [...list, value],
    )
    .option('--json', 'print JSON')
    .option('-c, --config <file>', 'a gateway config file, for its dht section')
    .addOption(new Option('--dht <kind>', 'directory substrate').choices(['hyperdht']))
    .option('--bootstrap <list>', 'hyperdht bootstrap nodes, host:port[,host:port] (implies --dht hyperdht)')
    .addHelpText(
      'after',
      '\nExits 2 when no chain connects them (or none keeps what --require asks).\n' +
        '\nExample:\n' +
        '  crosstalk route --from aim --to irc --require typing \\\n' +
        '    --bootstrap 127.0.0.1:49737',
    )
    .action(async (o: RouteCommandOptions) => {
      exit(await route(registry, o, io));
    });

  program
    .command('dht-node')
    .summary('run a hyperdht node (a bootstrap node for gateways)')
    .description(
      'Run a persistent node of a private hyperdht network, for gateways on several hosts to share a ' +
        'directory. The first node needs no --bootstrap; gateways name one or more nodes in theirs.',
    )
    .option('--port <port>', 'UDP port to listen on (default: any free port)')
    .option('--host <address>', 'address to bind (default 127.0.0.1)')
    .option('--bootstrap <list>', 'nodes to join through, host:port[,host:port]')
    .addHelpText('after', '\nExits 3 if it cannot start (a port in use).')
    .action(async (o: DhtNodeCommandOptions) => {
      exit(await dhtNode(o, io));
    });

  program
    .command('sip-exit')
    .summary('run a SIP exit (a registrar and proxy for SIP phones)')
    .description(
      'Run a SIP exit: a SIP registrar and proxy (UDP and TCP, digest authentication) whose ' +
        'registrations are signed records in the CrossTalk directory, on a node of its own. Registered ' +
        'phones are users of that node: client-API users call them (dialCall to USER@DOMAIN) and they ' +
        'call CrossTalk users (sip:alice@aol through the exit); calls between phones at two exits go ' +
        'exit to exit. It advertises canonical>exit:sip, and with --outbound the edge canonical:json>exit:sip ' +
        'for the domains it exits to, where chains for their addresses end. Only signalling passes through it: media ' +
        'flows between the endpoints as their SDP says.',
    )
    .option('-c, --config <file>', 'JSON config file (flags override it); see below')
    .option('--domain <domain>', 'the SIP domain of its users, also the digest realm')
    .option('--host <address>', 'address to bind SIP on (default 127.0.0.1)')
    .option('--udp <port|off>', 'SIP over UDP (default 5060; 0: any free port)')
    .option('--tcp <port|off>', 'SIP over TCP (default 5060; 0: any free port)')
    .option('--users-file <file>', 'REGISTER credentials: a JSON object {"user": "password"}')
    .option('--key <file>', "the exit's ed25519 key (PEM; made when missing): its id across restarts")
    .option('--g2g <host:port>', 'G2G listen address with --dht memory (default 127.0.0.1, any port)')
    .addOption(
      new Option('--dht <kind>', 'directory substrate: memory (one process) or hyperdht').choices([
        'memory',
        'hyperdht',
      ]),
    )
    .option('--bootstrap <list>', 'hyperdht bootstrap nodes, host:port[,host:port] (implies --dht hyperdht)')
    .option('--ring-timeout <ms>', 'how long a call may ring before it is given up (default 180000)')
    .option('--canonical <list>', 'G2G canonical forms, preferred first (default json,xmpp-stanza)')
    .option(
      '--outbound <domain=host:port>',
      'a SIP domain the exit exits to and where its calls go ([udp:|tcp:]host:port, loopback only); repeatable',
      (value: string, list: string[] = []) => [...list, value],
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (stderr)')
    .addHelpText(
      'after',
      '\nConfig file (every field but domain and users optional):\n' +
        '  { "domain": "sip.example.org", "host": "127.0.0.1",\n' +
        '    "udpPort": 5060, "tcpPort": 5060, "users": { "bob": "bob-password" },\n' +
        '    "key": "exit.pem", "ringTimeout": 60000,\n' +
        '    "outbound": { "sip.example": "127.0.0.1:5070" },\n' +
        '    "dht": { "kind": "hyperdht", "bootstrap": ["127.0.0.1:49737"] } }\n' +
        '\nA phone (baresip) registers as:\n' +
        '  <sip:bob@127.0.0.1:5060>;auth_pass=bob-password\n' +
        'and is called by client-API users as bob@sip.example.org. With outbound, a\n' +
        'client-API user calling bob@sip.example (no phone registered as bob) is routed\n' +
        'along a chain that ends in this exit (canonical:json>exit:sip), which sends the\n' +
        'INVITE to 127.0.0.1:5070. Exits 1 on a bad\n' +
        'config, 3 if it cannot start (a port in use, a DHT it cannot join).\n' +
        '\nExample, on the network of `crosstalk dht-node --port 49737`:\n' +
        '  crosstalk sip-exit --domain sip.example.org --users-file users.json \\\n' +
        '    --key exit.pem --bootstrap 127.0.0.1:49737',
    )
    .action(async (o: SipExitCommandOptions) => {
      exit(await sipExit(o, io));
    });

  program
    .command('chat')
    .summary('a terminal IM client on the client API (XMPP: the shim)')
    .description(
      'Chat from the terminal as a user of the CrossTalk network. An XMPP address logs in to your ' +
        'own XMPP server over TLS (required, verified) and goes on CrossTalk through the shim: ' +
        'buddies on your server are reached through it, untouched; buddies on other networks over ' +
        'G2G. Any other address is a client-API user on a node of its own. Reads commands and ' +
        'messages on stdin, one per line; prints what happens on stdout.',
    )
    .requiredOption('--as <address>', 'who you are: alice@jabber.example (XMPP) or bob@yahoo (client API)')
    .option('--name <name>', 'your display name, sent with buddy requests')
    .option('--server <host:port>', 'your XMPP server (default: the domain of --as, port 5222)')
    .option(
      '--password-env <name>',
      `environment variable holding the XMPP password (default ${PASSWORD_ENV})`,
    )
    .option('--password-file <file>', 'read the XMPP password from this file instead')
    .option('--ca <file>', 'trust this certificate (PEM) for the XMPP server (e.g. its self-signed one)')
    .option('--direct-tls', 'TLS from the first byte (XEP-0368, port 5223) instead of STARTTLS')
    .option('--sasl <mechanism>', "SASL mechanism (PLAIN, SCRAM-SHA-1; default the server's first choice)")
    .option('--state <file>', "your node's key and foreign buddies, kept across runs")
    .addOption(
      new Option('--dht <kind>', 'directory: memory (alone) or hyperdht').choices(['memory', 'hyperdht']),
    )
    .option('--bootstrap <list>', 'hyperdht bootstrap nodes, host:port[,host:port] (implies --dht hyperdht)')
    .option('--g2g <host:port>', 'G2G listen address with --dht memory (default 127.0.0.1, any port)')
    .option('--downloads <dir>', 'where /get saves files (default: the current directory)')
    .option('--log-level <level>', "the node's log on stderr: fatal ... trace, or silent (default)")
    .addHelpText(
      'after',
      '\nCommands (one per line on stdin):\n' +
        CHAT_COMMANDS.map(([usage, what]) => `  ${usage.padEnd(27)} ${what}`).join('\n') +
        '\n\nOutput: "<bob@yahoo> text" for IMs, "* ..." for events and results\n' +
        '(requests, presence, offers, progress bars), "! ..." for what failed.\n' +
        'Exits 0 after /quit or end of input, 3 if it cannot start (a login the\n' +
        'server refused, TLS that does not verify, a DHT it cannot join), 4 if\n' +
        'the XMPP connection is lost.\n' +
        '\nExamples:\n' +
        `  ${PASSWORD_ENV}=secret crosstalk chat --as alice@jabber.example \\\n` +
        '    --dht hyperdht --bootstrap 192.0.2.10:49737 --state alice.json\n' +
        `  ${PASSWORD_ENV}=alicepw crosstalk chat --as alice@localhost \\\n` +
        '    --server 127.0.0.1:5222 --ca prosody.crt --bootstrap 127.0.0.1:49737\n' +
        '  crosstalk chat --as bob@yahoo --bootstrap 127.0.0.1:49737',
    )
    .action(async (o: ChatCommandOptions) => {
      exit(await chat(o, io));
    });

  program
    .command('demo')
    .summary('scripted users on every network, as a transcript')
    .description(
      'Run gateways, servers and scripted users of every network in this process, and print what ' +
        'happens as they add one another across networks, chat, type, change presence and log back in.',
    )
    .option('--quiet-gateways', 'do not print what the gateways carry')
    .action(async (o: { quietGateways?: boolean }) => {
      await runDemo({
        networks: demoNetworks(),
        out: (line) => io.stdout.write(`${line}\n`),
        showGateways: !o.quietGateways,
      });
      exit(0);
    });

  program
    .command('protocols')
    .summary('list what this build can decode, encode and proxy')
    .description('List the protocols this build can decode, encode and proxy.')
    .option('--json', 'print JSON')
    .addOption(codecOption())
    .action(async (o: { json?: boolean; codec?: string[] }) => {
      exit(await protocols(await loadCodecs(registry, o.codec, io), Boolean(o.json), io));
    });

  return program;
}

/** Runs the CLI; resolves with the exit code instead of exiting, so it is embeddable. */
export async function main(
  argv: readonly string[],
  io: CliIo = processIo(),
  registry?: CodecRegistry,
): Promise<number> {
  let code = 0;
  const program = createProgram({
    io,
    ...(registry ? { registry } : {}),
    exit: (c) => {
      code = c;
    },
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    const e = error as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
      return 0;
    if (typeof e.exitCode === 'number') return e.exitCode;
    io.stderr.write(`${isCrossTalkError(error) ? error.message : String(error)}\n`);
    return 1;
  }
  return code;
}
