import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { InvalidConfigError } from '../errors/errors.js';

/**
 * Hard state that must survive a restart (DESIGN.md): the gateway's key, each user's foreign
 * buddies, and the pending buddy requests this gateway holds for offline users. In the embedded
 * mode it is one JSON file written atomically (temporary file, fsync, rename), validated on load.
 */
const RosterItemJson = z.object({
  address: z.string(),
  name: z.string().optional(),
  groups: z.array(z.string()),
  subscription: z.enum(['none', 'to', 'from', 'both']),
  pending: z.boolean(),
});

export const HardStateSchema = z.object({
  version: z.literal(1),
  identity: z.string().optional(),
  users: z.record(
    z.string(),
    z.object({
      foreignBuddies: z.array(RosterItemJson),
      /** When the user last logged in through this gateway (their `home` record's `since`). */
      home: z.number().int().nonnegative().optional(),
    }),
  ),
  /** Requests this gateway published for offline users: the event (JSON) and the DHT value (hex). */
  pending: z.array(z.object({ request: z.unknown(), value: z.string() })),
  /** Ids of pending requests already delivered to local users, so they are not shown twice. */
  delivered: z.array(z.string()),
});

export type HardState = z.infer<typeof HardStateSchema>;
export type RosterItemJson = z.infer<typeof RosterItemJson>;

const MAX_DELIVERED = 10_000;

export function emptyState(): HardState {
  return { version: 1, users: {}, pending: [], delivered: [] };
}

export class StateStore {
  #state: HardState;
  readonly #path: string | undefined;
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string | undefined, state: HardState) {
    this.#path = path;
    this.#state = state;
  }

  /** Opens the store at `path` (created if missing); without a path, state lives in memory only. */
  static async open(path?: string): Promise<StateStore> {
    if (!path) return new StateStore(undefined, emptyState());
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text === undefined) return new StateStore(path, emptyState());
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new InvalidConfigError(`state file ${path} is not JSON`, { cause });
    }
    const result = HardStateSchema.safeParse(parsed);
    if (!result.success)
      throw new InvalidConfigError(`state file ${path} is invalid: ${result.error.issues[0]?.message}`);
    return new StateStore(path, result.data);
  }

  get state(): Readonly<HardState> {
    return this.#state;
  }

  get path(): string | undefined {
    return this.#path;
  }

  /** Applies `change` and persists; writes are serialised, each one atomic. */
  async update(change: (state: HardState) => void): Promise<void> {
    change(this.#state);
    if (this.#state.delivered.length > MAX_DELIVERED)
      this.#state.delivered.splice(0, this.#state.delivered.length - MAX_DELIVERED);
    const snapshot = JSON.stringify(this.#state, null, 1);
    this.#writing = this.#writing.then(() => this.#write(snapshot));
    return this.#writing;
  }

  async flush(): Promise<void> {
    await this.#writing;
  }

  async #write(text: string): Promise<void> {
    if (!this.#path) return;
    await mkdir(dirname(this.#path), { recursive: true });
    const temporary = `${this.#path}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temporary, this.#path);
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw error;
    }
  }
}
