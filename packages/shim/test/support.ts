import {
  type CanonicalEvent,
  type ClientEventMap,
  type CrossTalkClient,
  WaitingInbox,
} from '@crosstalk/core';

/**
 * Collects what a client hears, so a test can wait for the next event of a kind that matches
 * (events heard before the wait started count, until taken).
 */
export class Heard {
  readonly #events = new WaitingInbox<CanonicalEvent>();

  constructor(client: CrossTalkClient) {
    client.on('event', (event) => this.#events.push(event));
  }

  /** Everything heard and not taken yet. */
  get pending(): readonly CanonicalEvent[] {
    return this.#events.items;
  }

  /** The first event of `kind` matching `match`, taken from what was heard; rejects naming `what` after `ms`. */
  async next<K extends keyof ClientEventMap & CanonicalEvent['kind']>(
    kind: K,
    match: (event: ClientEventMap[K]) => boolean = () => true,
    what: string = kind,
    ms = 15_000,
  ): Promise<ClientEventMap[K]> {
    const event = await this.#events.take((e) => e.kind === kind && match(e as ClientEventMap[K]), {
      what,
      timeoutMs: ms,
    });
    return event as ClientEventMap[K];
  }
}

/** Waits until `check` holds, polling; rejects naming `what` after `ms`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 15_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Non-ASCII text both ways (the walk-through's). */
export const TEXT = 'Grüße aus Zürich — こんにちは 👋';
export const TEXT_BACK = 'Ответ: ça va très bien ✓';
