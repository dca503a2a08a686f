import type { ClientEventMap } from '@crosstalk/core';

/** An event a client hands its application: under `event` and under its own kind. */
interface Dispatched {
  kind: string;
}

/**
 * The application's listeners of one client (`on(type, listener)`), shared by the client API and
 * the shim: each event goes to the `event` listeners and to those of its kind, in the order they
 * were added; a listener that throws does not keep the event from the others.
 */
export class ClientListeners {
  readonly #byType = new Map<string, Set<(event: never) => void>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void): () => void {
    let set = this.#byType.get(type);
    if (!set) {
      set = new Set();
      this.#byType.set(type, set);
    }
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  /** Hands `event` to every listener of `event` and of its kind. */
  dispatch(event: Dispatched): void {
    for (const type of ['event', event.kind]) {
      for (const listener of this.#byType.get(type) ?? []) {
        try {
          (listener as (e: Dispatched) => void)(event);
        } catch {
          // An application's listener that throws does not make the event undelivered to the others.
        }
      }
    }
  }
}
