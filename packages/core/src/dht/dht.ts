/**
 * The DHT port, with OpenDHT semantics as both source papers use it: several values per key,
 * each with a time to live, removable only with the secret it was stored with.
 */
export interface DhtPutOptions {
  /** Lifetime in milliseconds; defaults to `limits.defaultTtl` (OpenDHT's 10 minutes). */
  ttl?: number;
  /** A value stored with a secret can only be removed (or re-put) with the same secret. */
  secret?: string;
  /**
   * Re-sign in place: the value takes the place of whatever this secret last put under `key` in the
   * slot of this name (one value per slot, counted once against the publisher's share), instead of
   * being added beside it; the previous value is gone for every reader at once, with no `remove`.
   * Slots are per secret: another publisher's slot of the same name is its own, and a slot needs a
   * secret (`DhtSlotSecretRequiredError` without one). Only for a `Dht` whose `slots` is true.
   */
  slot?: string;
  /**
   * Goes ahead of waiting operations that are not urgent, for a `Dht` that queues its work (as
   * `HyperDhtStore` does; others run every operation at once and ignore it): a record that makes a
   * user reachable should not wait behind a login burst's reads and long-lived records.
   */
  urgent?: boolean;
}

/** The caps a DHT enforces on keys and values; every `Dht` states its own. */
export interface DhtLimits {
  /** Largest key, in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value, in bytes (OpenDHT MAX_VALUE_SIZE: 64 KiB). */
  maxValueBytes: number;
  /** Most live values one key holds. */
  maxValuesPerKey: number;
  /**
   * Most live values one publisher holds under one key. A publisher is the secret its values were
   * stored with (values stored without one share a single anonymous share), so that one publisher
   * cannot fill a key that others publish under (a user's location, pending requests).
   */
  maxValuesPerPublisher: number;
  /** Longest TTL accepted, ms. */
  maxTtl: number;
  /** TTL when `put` names none, ms. */
  defaultTtl: number;
}

/** The limits `MemoryDht` uses unless told otherwise. */
export const DEFAULT_DHT_LIMITS: DhtLimits = Object.freeze({
  maxKeyBytes: 256,
  maxValueBytes: 64 * 1024,
  maxValuesPerKey: 256,
  maxValuesPerPublisher: 32,
  maxTtl: 24 * 60 * 60 * 1000,
  defaultTtl: 10 * 60 * 1000,
});

/**
 * The directory substrate, with OpenDHT semantics: several values per key, each with a time to live,
 * removable only with its secret (`MemoryDht` in one process, `HyperDhtStore` across hosts).
 */
export interface Dht {
  /** The caps this DHT enforces. */
  readonly limits: DhtLimits;
  /**
   * True when `put` honours `DhtPutOptions.slot`. Optional so that a `Dht` written before slots
   * stays one; a caller that wants slots falls back to put-then-remove when this is not true.
   */
  readonly slots?: boolean;
  /**
   * Adds `value` under `key`. Putting a value already there (byte-equal) refreshes its TTL.
   * Fair share: a publisher over `maxValuesPerPublisher` gets `DhtPublisherQuotaError`; when the
   * key is full, a publisher holding fewer values than the key's largest holder displaces that
   * holder's oldest value, so no one publisher, and no crowd of them, can lock a newcomer out for
   * good (it can only contest the key).
   * Throws `DhtKeyTooLargeError`, `DhtValueTooLargeError`, `DhtKeyFullError` (full, and this
   * publisher already holds as many as anyone), `DhtPublisherQuotaError`, `InvalidTtlError`,
   * or `DhtSecretMismatchError` when re-putting a value owned by another secret.
   * With `slot`: the value replaces the secret's previous value in that slot (its place and share
   * kept); `DhtSlotSecretRequiredError` without a secret.
   */
  put(key: string, value: Uint8Array, options?: DhtPutOptions): Promise<void>;
  /** All live values under `key`, oldest first; `[]` when none. */
  get(key: string): Promise<Uint8Array[]>;
  /**
   * Removes one value (a slotted one too, by its current bytes: the slot is then empty). Returns false when it is not there; throws `DhtSecretMismatchError` when it
   * is there but was stored with another secret (or with none: such values only expire).
   */
  remove(key: string, value: Uint8Array, secret: string): Promise<boolean>;
  /** Stops the DHT; later calls reject with `DhtClosedError`. */
  close(): Promise<void>;
}
