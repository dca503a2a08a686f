/**
 * Request ids a session remembers until their answer passes (a bind, a roster get, a roster push
 * the gateway injected). A client may send requests it never sees answered, or never answer ours,
 * so the set keeps only the newest `limit` ids: memory per connection stays bounded.
 */
export class BoundedIds {
  readonly #ids = new Set<string>();

  constructor(readonly limit: number) {}

  add(id: string): void {
    this.#ids.delete(id);
    this.#ids.add(id);
    // A Set iterates in insertion order: the first id is the oldest.
    if (this.#ids.size > this.limit) this.#ids.delete(this.#ids.values().next().value as string);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  delete(id: string): boolean {
    return this.#ids.delete(id);
  }

  get size(): number {
    return this.#ids.size;
  }
}
