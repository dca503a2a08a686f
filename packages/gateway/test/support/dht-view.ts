import type { Dht } from '@crosstalk/core';

/**
 * `dht` as one node sees it: writes go through, reads go through `read`, which may delay them or
 * hide values (a real DHT is slow and eventually consistent). Closing the view leaves `dht` open.
 */
export function dhtView(
  dht: Dht,
  read: (key: string, get: () => Promise<Uint8Array[]>) => Promise<Uint8Array[]>,
): Dht {
  return {
    limits: dht.limits,
    ...(dht.slots ? { slots: dht.slots } : {}),
    put: (key, value, options) => dht.put(key, value, options),
    get: (key) => read(key, () => dht.get(key)),
    remove: (key, value, secret) => dht.remove(key, value, secret),
    close: async () => {},
  };
}
