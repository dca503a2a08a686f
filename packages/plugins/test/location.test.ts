import { readFile } from 'node:fs/promises';
import { isCrossTalkError } from '@crosstalk/core';
import maxmind from 'maxmind';
import { describe, expect, it } from 'vitest';
import {
  dbipCityDatabase,
  type GeoDatabase,
  isPrivateAddress,
  locationPlugin,
  openGeoDatabase,
  placeOf,
} from '../src/index.js';
import { ask, context } from './support.js';

// The real DB-IP city database the package ships (CC BY 4.0, "IP Geolocation by DB-IP"). The test
// address is UCSD's 132.239.1.1, where the CrossTalk paper was written.
const UCSD = '132.239.1.1';
const files = dbipCityDatabase();

describe('locationPlugin on the DB-IP city database', () => {
  const plugin = locationPlugin({ addressMap: { '127.0.0.1': UCSD } });

  it('says where the user is, from their client address mapped to an address in the database', async () => {
    // Read independently of the plugin: the maxmind package's reader on the same file.
    const reader = await maxmind.open<Record<string, unknown>>(files.ipv4);
    const record = reader.get(UCSD) as { city: string; state1: string; country_code: string };
    expect(record).toMatchObject({ city: 'San Diego (La Jolla)', state1: 'California', country_code: 'US' });
    expect(await ask(plugin, '/location', { clientAddress: '127.0.0.1' })).toEqual({
      text: 'bob is in San Diego (La Jolla), California, United States.',
    });
  });

  it('looks a public client address up as it is', async () => {
    expect(await ask(plugin, '/location', { clientAddress: UCSD })).toEqual({
      text: 'bob is in San Diego (La Jolla), California, United States.',
    });
  });

  it('answers unknown for loopback and private addresses, and for no address', async () => {
    const unmapped = locationPlugin();
    for (const clientAddress of [
      '127.0.0.1',
      '10.1.2.3',
      '192.168.0.7',
      '172.20.0.1',
      '::1',
      'fe80::1',
      undefined,
    ])
      expect(await ask(unmapped, '/location', { ...(clientAddress ? { clientAddress } : {}) })).toEqual({
        text: "bob's location is unknown.",
      });
  });

  it('the owner sets a place, hides it and goes back to the lookup; buddies see each', async () => {
    const store = new Map<string, string>();
    const owner = { origin: 'owner' as const, ctx: context(store), clientAddress: '127.0.0.1' };
    const buddy = { ctx: context(store), clientAddress: '127.0.0.1' };
    expect((await ask(plugin, '/location set   San   Diego ', owner))?.text).toBe(
      'Buddies who send you /location are now told you are in San Diego.',
    );
    expect(await ask(plugin, '/location', buddy)).toEqual({ text: 'bob is in San Diego.' });
    expect((await ask(plugin, '/location off', owner))?.text).toMatch(/hidden/);
    expect(await ask(plugin, '/location', buddy)).toEqual({ text: 'bob does not share their location.' });
    expect((await ask(plugin, '/location auto', owner))?.text).toBe(
      'Your location comes from your connection again: bob is in San Diego (La Jolla), California, United States.',
    );
    expect(await ask(plugin, '/location', buddy)).toEqual({
      text: 'bob is in San Diego (La Jolla), California, United States.',
    });
    expect(store.size).toBe(0);
  });

  it('a buddy cannot change the setting: "/location set" from a buddy is just a question', async () => {
    const store = new Map<string, string>();
    expect(
      await ask(plugin, '/location set Mars', { ctx: context(store), clientAddress: '127.0.0.1' }),
    ).toEqual({
      text: 'bob is in San Diego (La Jolla), California, United States.',
    });
    expect(store.size).toBe(0);
  });

  it('a place set is one short line', async () => {
    const store = new Map<string, string>();
    await ask(plugin, `/location set ${'x'.repeat(500)}`, { origin: 'owner', ctx: context(store) });
    expect(store.get('place')).toHaveLength(100);
  });
});

describe('city databases', () => {
  it('reads GeoIP2 City records as well as ip-location-db ones', () => {
    expect(
      placeOf({
        city: { names: { en: 'London', de: 'London' } },
        subdivisions: [{ names: { en: 'England' }, iso_code: 'ENG' }],
        country: { iso_code: 'GB', names: { en: 'United Kingdom' } },
      }),
    ).toEqual({ city: 'London', region: 'England', countryCode: 'GB', country: 'United Kingdom' });
    expect(placeOf({ city: '', state1: '', country_code: 'FR' })).toEqual({ countryCode: 'FR' });
    expect(placeOf({ city: 7 })).toBeUndefined();
  });

  it('a file that is not a city database fails the lookup with a typed error, and the next try reopens it', async () => {
    const db = openGeoDatabase({ ipv4: new URL(import.meta.url).pathname });
    const error = await db.lookup('8.8.8.8').catch((e: unknown) => e);
    expect(isCrossTalkError(error, 'ERR_GEO_DATABASE')).toBe(true);
    const again = await db.lookup('8.8.8.8').catch((e: unknown) => e);
    expect(isCrossTalkError(again, 'ERR_GEO_DATABASE')).toBe(true);
  });

  it('a plugin whose lookup fails throws (the host turns that into a short reply)', async () => {
    const broken: GeoDatabase = { lookup: async () => Promise.reject(new Error('disk on fire')) };
    await expect(
      ask(locationPlugin({ database: broken }), '/location', { clientAddress: UCSD }),
    ).rejects.toThrow('disk on fire');
  });

  it('IPv6 addresses are looked up in the IPv6 file', async () => {
    // 2001:67c:2e8::/48 is RIPE NCC's own network, in Amsterdam.
    const place = await openGeoDatabase(files).lookup('2001:67c:2e8:22::c100:68b');
    expect(place?.countryCode).toBe('NL');
  });

  it('private ranges', () => {
    expect(isPrivateAddress('100.64.0.1')).toBe(true);
    expect(isPrivateAddress('fd00::1')).toBe(true);
    expect(isPrivateAddress('not an ip')).toBe(true);
    expect(isPrivateAddress('132.239.1.1')).toBe(false);
  });

  it('the default database is the npm package, its files MaxMind DBs', async () => {
    expect(files.ipv4).toMatch(/@ip-location-db\/dbip-city-mmdb\/dbip-city-ipv4\.mmdb$/);
    const head = (await readFile(files.ipv4)).subarray(-200_000);
    // MaxMind DB spec: the metadata section starts with "\xab\xcd\xefMaxMind.com".
    expect(head.includes(Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1'))).toBe(true);
  });
});
