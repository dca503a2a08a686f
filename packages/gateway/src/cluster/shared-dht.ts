import {
  type Dht,
  DhtClosedError,
  DhtInvalidKeyError,
  DhtKeyFullError,
  DhtKeyTooLargeError,
  type DhtLimits,
  DhtPublisherQuotaError,
  type DhtPutOptions,
  DhtSecretMismatchError,
  DhtSlotSecretRequiredError,
  DhtValueTooLargeError,
  InvalidTtlError,
  isCrossTalkError,
} from '@crosstalk/core';
import type { FromWorker, RemoteError, ToWorker } from './messages.js';

type DhtRequest = Extract<FromWorker, { t: 'dht' }>;
type DhtReply = Extract<ToWorker, { t: 'dht-reply' }>;

/** Rebuilds a DHT error thrown in the primary, as the class it was (callers branch on `code`). */
function rebuild(e: RemoteError): Error {
  const f = e.fields ?? {};
  switch (e.code) {
    case 'ERR_DHT_KEY_TOO_LARGE':
      return new DhtKeyTooLargeError(f.size ?? 0, f.limit ?? 0);
    case 'ERR_DHT_INVALID_KEY':
      return new DhtInvalidKeyError();
    case 'ERR_DHT_VALUE_TOO_LARGE':
      return new DhtValueTooLargeError(f.size ?? 0, f.limit ?? 0);
    case 'ERR_DHT_KEY_FULL':
      return new DhtKeyFullError(f.limit ?? 0);
    case 'ERR_DHT_PUBLISHER_QUOTA':
      return new DhtPublisherQuotaError(f.limit ?? 0);
    case 'ERR_DHT_SECRET_MISMATCH':
      return new DhtSecretMismatchError();
    case 'ERR_DHT_SLOT_SECRET_REQUIRED':
      return new DhtSlotSecretRequiredError();
    case 'ERR_INVALID_TTL':
      return new InvalidTtlError(f.ttl ?? 0, f.limit ?? 0);
    case 'ERR_DHT_CLOSED':
      return new DhtClosedError();
    default:
      return new Error(e.message);
  }
}

/** An error as it crosses the channel: its code, message and the numbers its class is made from. */
export function remoteError(error: unknown): RemoteError {
  if (!isCrossTalkError(error)) return { message: error instanceof Error ? error.message : String(error) };
  const fields: Record<string, number> = {};
  for (const name of ['size', 'limit', 'ttl'] as const) {
    const v = (error as unknown as Record<string, unknown>)[name];
    if (typeof v === 'number') fields[name] = v;
  }
  return { code: error.code, message: error.message, fields };
}

/**
 * The directory substrate of a worker of a `--workers N` host in embedded mode: the primary holds
 * the one `MemoryDht` every worker (each a gateway of its own) publishes to and reads, and this
 * forwards each call to it over the IPC channel. Same semantics and errors as the `MemoryDht`.
 */
export class SharedDht implements Dht {
  readonly limits: DhtLimits;
  /** Slots are forwarded to the primary's `MemoryDht`, which honours them. */
  readonly slots = true;
  readonly #send: (m: DhtRequest) => void;
  readonly #waiting = new Map<number, { resolve(r: DhtReply): void; reject(e: Error): void }>();
  #seq = 0;
  #closed = false;

  constructor(limits: DhtLimits, send: (m: DhtRequest) => void) {
    this.limits = limits;
    this.#send = send;
  }

  /** A reply from the primary. */
  reply(m: DhtReply): void {
    const w = this.#waiting.get(m.seq);
    if (!w) return;
    this.#waiting.delete(m.seq);
    w.resolve(m);
  }

  /** The primary is gone: whatever waits fails, and so does every later call. */
  disconnected(): void {
    this.#closed = true;
    for (const w of this.#waiting.values()) w.reject(new DhtClosedError());
    this.#waiting.clear();
  }

  async #call(m: Omit<DhtRequest, 't' | 'seq'>): Promise<Extract<DhtReply, { ok: true }>> {
    if (this.#closed) throw new DhtClosedError();
    const seq = ++this.#seq;
    const reply = await new Promise<DhtReply>((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
      try {
        this.#send({ t: 'dht', seq, ...m });
      } catch {
        this.#waiting.delete(seq);
        reject(new DhtClosedError());
      }
    });
    if (!reply.ok) throw rebuild(reply.error);
    return reply;
  }

  async put(key: string, value: Uint8Array, options: DhtPutOptions = {}): Promise<void> {
    await this.#call({
      op: 'put',
      key,
      value,
      ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
      ...(options.secret !== undefined ? { secret: options.secret } : {}),
      ...(options.slot !== undefined ? { slot: options.slot } : {}),
      ...(options.urgent ? { urgent: true } : {}),
    });
  }

  async get(key: string): Promise<Uint8Array[]> {
    return (await this.#call({ op: 'get', key })).values ?? [];
  }

  async remove(key: string, value: Uint8Array, secret: string): Promise<boolean> {
    return (await this.#call({ op: 'remove', key, value, secret })).removed ?? false;
  }

  /** The primary's DHT stays: closing this only stops this worker's calls. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** The primary's side: answers one worker's call on the DHT it holds. */
export async function answerDht(dht: Dht, m: DhtRequest): Promise<DhtReply> {
  try {
    if (m.op === 'get') return { t: 'dht-reply', seq: m.seq, ok: true, values: await dht.get(m.key) };
    if (m.op === 'put') {
      await dht.put(m.key, m.value ?? new Uint8Array(0), {
        ...(m.ttl !== undefined ? { ttl: m.ttl } : {}),
        ...(m.secret !== undefined ? { secret: m.secret } : {}),
        ...(m.slot !== undefined ? { slot: m.slot } : {}),
        ...(m.urgent ? { urgent: true } : {}),
      });
      return { t: 'dht-reply', seq: m.seq, ok: true };
    }
    const removed = await dht.remove(m.key, m.value ?? new Uint8Array(0), m.secret ?? '');
    return { t: 'dht-reply', seq: m.seq, ok: true, removed };
  } catch (error) {
    return { t: 'dht-reply', seq: m.seq, ok: false, error: remoteError(error) };
  }
}
