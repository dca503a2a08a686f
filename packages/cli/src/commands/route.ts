import { type CodecRegistry, type Dht, type Feature, isFeature } from '@crosstalk/core';
import {
  CapabilityView,
  canonicalFormat,
  Directory,
  generateIdentity,
  isCanonicalFormat,
  isExitFormat,
  type Route,
  routedNetwork,
} from '@crosstalk/gateway';
import { type CliIo, write } from '../io.js';
import { openDht, resolveGatewayConfig } from './gateway.js';

/** Options of `crosstalk route`. */
export interface RouteCommandOptions {
  /** The sender's network or protocol (`aim`, `aol`, `oscar`). */
  from: string;
  /** The recipient's network or protocol (`irc`). */
  to: string;
  /** Features the chain must keep, comma-separated (repeatable). */
  require?: string[];
  /** Print JSON. */
  json?: boolean;
  config?: string;
  dht?: string;
  bootstrap?: string;
}

/** Exit code when no chain connects the two (or none keeps what `--require` asks for). */
export const EXIT_NO_ROUTE = 2;

/** Names people use for a network that no codec declares (AIM is AOL's network, `aol`). */
const ALIASES: Readonly<Record<string, string>> = { aim: 'aol', jabber: 'xmpp' };

/** The canonical forms the SDK ships, where exploring starts when the sender's protocol is not known here. */
const KNOWN_FORMS = ['json', 'xmpp-stanza'].map(canonicalFormat);

/**
 * `crosstalk route --from aim --to irc [--require typing]`: the chain the directory gives now, read
 * from the capability records the gateways advertise (`cap:<from>>*`, `cap:<from>><to>`), with the
 * gateway, cost and kept features of each step and what the chain loses. `dht` is injected by tests;
 * otherwise the config's or the flags' DHT is joined (hyperdht: `--bootstrap host:port`).
 */
export async function route(
  registry: CodecRegistry,
  o: RouteCommandOptions,
  io: CliIo,
  injected?: { dht: Dht },
): Promise<number> {
  const required = (o.require ?? [])
    .flatMap((r) => r.split(','))
    .map((r) => r.trim())
    .filter(Boolean);
  const unknown = required.filter((r) => !isFeature(r));
  if (unknown.length) {
    await write(
      io.stderr,
      `crosstalk route: unknown feature ${unknown.join(', ')} (see crosstalk protocols)\n`,
    );
    return 1;
  }
  let dht = injected?.dht;
  let close = async () => {};
  if (!dht) {
    const config = await resolveGatewayConfig({
      ...(o.config ? { config: o.config } : {}),
      ...(o.dht ? { dht: o.dht } : {}),
      ...(o.bootstrap ? { bootstrap: o.bootstrap } : {}),
    });
    if (config.dht.kind !== 'hyperdht') {
      await write(
        io.stderr,
        'crosstalk route reads the directory gateways share: give --bootstrap host:port (a hyperdht ' +
          'network), or a config whose dht is hyperdht.\n',
      );
      return 1;
    }
    const substrate = await openDht(config);
    dht = substrate.dht!;
    close = () => substrate.close();
  }
  try {
    const directory = new Directory({ dht, identity: generateIdentity() });
    const source = resolveSource(registry, o.from) ?? canonicalSource(o.from);
    const view = new CapabilityView({ lookup: directory, cacheTtl: 60_000 });
    await view.refresh([...(source ? [source] : []), ...KNOWN_FORMS]);
    const from = source ?? protocolFromRecords(view, o.from);
    // A protocol no codec here speaks: its own edges (into the forms) are read now that it is known.
    if (!source && from) await view.refresh([from, ...KNOWN_FORMS]);
    const network = resolveNetwork(registry, view, o.to);
    if (!from) {
      await write(io.stderr, `crosstalk route: no codec or capability record knows "${o.from}"\n`);
      return 1;
    }
    const sourceFeatures_ = registry.has(from) ? { sourceFeatures: [...registry.get(from).features] } : {};
    // An exit's name or one of its domains (`--to sip`, `--to sip.example`): a chain that ends in the exit.
    const exit = servedByExit(view, o.to);
    const query = { from, network: exit ? exit.network : network, ...(exit ? { exit: true } : {}) };
    const best = view.route({ ...query, require: required as Feature[], ...sourceFeatures_ });
    const any = best ?? (required.length ? view.route({ ...query, ...sourceFeatures_ }) : undefined);
    const target = query.network;
    const label = {
      from: o.from === from ? from : `${o.from} (${from})`,
      to: o.to === target ? target : `${o.to} (${target})`,
    };
    if (o.json) {
      await write(
        io.stdout,
        `${JSON.stringify({ from, network: target, require: required, route: best ? routeJson(best) : null, ...(best ? {} : { without: any ? routeJson(any) : null }) })}\n`,
      );
      return best ? 0 : EXIT_NO_ROUTE;
    }
    await write(io.stdout, formatRoute(best, { ...label, require: required as Feature[], without: any }));
    return best ? 0 : EXIT_NO_ROUTE;
  } finally {
    await close();
  }
}

/** A route as `--json` prints it. */
function routeJson(r: Route) {
  return {
    steps: r.steps.map((s) => ({
      from: s.from,
      to: s.to,
      gateway: s.gateway,
      cost: s.cost,
      keeps: s.preserves,
    })),
    cost: r.cost,
    transfers: r.transfers,
    keeps: r.preserves,
    loses: r.loses,
  };
}

/** The sender's protocol: a protocol name, or the protocol of a network, among the codecs known here. */
function resolveSource(registry: CodecRegistry, name: string): string | undefined {
  const wanted = ALIASES[name.toLowerCase()] ?? name.toLowerCase();
  if (registry.has(wanted)) return wanted;
  return registry.forNetwork(routedNetwork(wanted))?.protocol;
}

/**
 * A client-API user's chain starts in its node's canonical form: `--from api` is the JSON form,
 * `--from json` or `--from canonical:xmpp-stanza` the form named.
 */
function canonicalSource(name: string): string | undefined {
  const wanted = name.toLowerCase();
  if (wanted === 'api') return canonicalFormat('json');
  const vertex = isCanonicalFormat(wanted) ? wanted : canonicalFormat(wanted);
  return KNOWN_FORMS.includes(vertex) ? vertex : undefined;
}

/**
 * The network an exit serves under that name: `sip` for the exit `exit:sip` (its first network), or
 * a network (a SIP domain) some exit names; undefined when no exit has that name.
 */
function servedByExit(view: CapabilityView, name: string): { network: string } | undefined {
  const wanted = name.toLowerCase();
  for (const r of view.records()) {
    if (!isExitFormat(r.to)) continue;
    if (r.networks.includes(wanted)) return { network: wanted };
    if ((r.to === wanted || r.to === `exit:${wanted}`) && r.networks[0]) return { network: r.networks[0] };
  }
  return undefined;
}

/** A protocol some record translates out of or into under that name, or one delivering to that network. */
function protocolFromRecords(view: CapabilityView, name: string): string | undefined {
  const wanted = ALIASES[name.toLowerCase()] ?? name.toLowerCase();
  for (const r of view.records()) {
    if (!isCanonicalFormat(r.from) && r.from === wanted) return r.from;
    if (!isCanonicalFormat(r.to) && (r.to === wanted || r.networks.includes(wanted))) return r.to;
  }
  return undefined;
}

/** The recipient's network: a network name as is, or a protocol's first network. */
function resolveNetwork(registry: CodecRegistry, view: CapabilityView, name: string): string {
  const wanted = ALIASES[name.toLowerCase()] ?? name.toLowerCase();
  if (registry.has(wanted)) return registry.get(wanted).networks[0] ?? wanted;
  const record = view.records().find((r) => r.to === wanted && r.networks.length > 0);
  return record && !record.networks.includes(wanted) ? record.networks[0]! : routedNetwork(wanted);
}

/**
 * The text `crosstalk route` prints: each step with its gateway (the first 12 hex digits of its id),
 * cost and kept features, then the total and what the chain loses. When no chain keeps what was
 * required, it says so and shows the best chain without it.
 */
export function formatRoute(
  best: Route | undefined,
  o: { from: string; to: string; require: readonly Feature[]; without?: Route | undefined },
): string {
  const keeping = o.require.length ? `, keeping ${o.require.join(', ')}` : '';
  if (!best) {
    const lines = [`No route from ${o.from} to ${o.to}${keeping}.`];
    if (o.without && o.require.length) lines.push('', 'Without that requirement:', ...describe(o.without));
    else lines.push('No gateway advertises a chain between them now.');
    return `${lines.join('\n')}\n`;
  }
  return `${[`Route from ${o.from} to ${o.to}${keeping}:`, ...describe(best)].join('\n')}\n`;
}

function describe(r: Route): string[] {
  const width = Math.max(...r.steps.map((s) => `${s.from} > ${s.to}`.length), 11);
  const rows = r.steps.map(
    (s, i) =>
      `  ${String(i + 1).padEnd(3)}${`${s.from} > ${s.to}`.padEnd(width + 2)}${`${s.gateway.slice(0, 12)}…`.padEnd(15)}` +
      `${String(s.cost).padEnd(6)}${s.preserves.join(', ') || '-'}`,
  );
  const gateways = new Set(r.steps.map((s) => s.gateway)).size;
  return [
    `  ${'#'.padEnd(3)}${'translation'.padEnd(width + 2)}${'gateway'.padEnd(15)}${'cost'.padEnd(6)}keeps`,
    ...rows,
    `  total cost ${r.cost}, ${r.steps.length} steps on ${gateways} gateway${gateways === 1 ? '' : 's'}, ` +
      `${r.transfers} transfer${r.transfers === 1 ? '' : 's'} between them`,
    `  loses: ${r.loses.length ? r.loses.join(', ') : 'nothing'}`,
  ];
}
