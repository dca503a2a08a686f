import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { eventFromJson, parseAddress } from '@crosstalk/core';
import { z } from 'zod';
import { InvalidStateFileError } from '../errors/errors.js';
import { type PluginState, PluginStateSchema } from '../plugins/plugin-state.js';

/**
 * Hard state that must survive a restart (DESIGN.md): the gateway's key, each user's foreign
 * buddies, the pending buddy requests this gateway holds for offline users, and the plugin host's
 * choices and stores (an optional section: older files load without it). In the embedded
 * mode it is one JSON file written atomically (temporary file, fsync, rename, fsync of the
 * directory), validated on load. An update resolves only once its write is durable, so whatever
 * the gateway reports after it survives a crash (kill -9, power loss).
 *
 * Entries that cannot be read (a held request that is no longer a valid event, a buddy whose
 * address does not parse) are not dropped: they are moved to `<state>.quarantine.jsonl` beside the
 * state file, one JSON line each, for the operator to look at.
 */
const RosterItemJson = z.object({
  /** The buddy's address, `user@network`. */
  address: z.string(),
  /** The name the owner gave the buddy, if any. */
  name: z.string().optional(),
  /** The groups the buddy is filed under. */
  groups: z.array(z.string()),
  /** Whether presence flows to, from, both ways or neither way. */
  subscription: z.enum(['none', 'to', 'from', 'both']),
  /** The owner asked for authorisation and is still waiting. */
  pending: z.boolean(),
});

/**
 * The state file's shape: the gateway's key, its users' foreign buddies and home records, the buddy requests
 * it holds and those it delivered.
 */
export const HardStateSchema = z.object({
  /** The file format's version. */
  version: z.literal(1),
  /** The gateway's private key, PKCS#8 PEM (stored on first start). */
  identity: z.string().optional(),
  /** Per user (by address key): what the gateway keeps for them. */
  users: z.record(
    z.string(),
    z.object({
      /** The user's buddies on other networks, which their own server does not store. */
      foreignBuddies: z.array(RosterItemJson),
      /** When the user last logged in through this gateway (their `home` record's `since`). */
      home: z.number().int().nonnegative().optional(),
    }),
  ),
  /** Requests this gateway published for offline users: the event (JSON) and the DHT value (hex). */
  pending: z.array(
    z.object({
      /** The held request, as canonical JSON. */
      request: z.unknown(),
      /** The DHT value it was published as, hex. */
      value: z.string(),
    }),
  ),
  /** Ids of pending requests already delivered to local users, so they are not shown twice. */
  delivered: z.array(z.string()),
  /** Users' plugin choices and each plugin's per-user store (absent until a plugin stores anything). */
  plugins: PluginStateSchema.optional(),
});

/** What the gateway keeps across restarts (see `HardStateSchema`). */
export interface HardState extends z.infer<typeof HardStateSchema> {}

/** The file's shape with its entries unchecked: each is checked alone, and quarantined alone. */
const StateFileSchema = HardStateSchema.extend({
  users: z.record(
    z.string(),
    z.object({ foreignBuddies: z.array(z.unknown()), home: z.number().int().nonnegative().optional() }),
  ),
  pending: z.array(z.unknown()),
  plugins: z.unknown().optional(),
});

const HeldJson = z.object({ request: z.unknown(), value: z.string().regex(/^(?:[0-9a-f]{2})*$/i) });

/** One entry moved out of the state file, as written (a line) to the quarantine file. */
export interface QuarantinedEntry {
  /** When it was moved (ISO 8601). */
  at: string;
  what: 'held-request' | 'foreign-buddy' | 'plugin-state';
  /** For a foreign buddy: whose buddy it was (the `users` key). */
  owner?: string;
  /** Why it could not be read. */
  reason: string;
  /** The entry as it was in the state file. */
  entry: unknown;
}
export type RosterItemJson = z.infer<typeof RosterItemJson>;

const MAX_DELIVERED = 10_000;

/** The state of a gateway that has kept nothing yet. */
export function emptyState(): HardState {
  return { version: 1, users: {}, pending: [], delivered: [] };
}

/**
 * The hard-state file: read and checked on open (unreadable entries quarantined), written atomically after
 * each change.
 */
export class StateStore {
  #state: HardState;
  readonly #path: string | undefined;
  #writing: Promise<void> = Promise.resolve();
  /** Entries this open moved to the quarantine file (empty when all were readable). */
  readonly quarantined: readonly QuarantinedEntry[];
  /** Temporary files of interrupted writes that this open removed. */
  readonly removedTemporaries: readonly string[];

  private constructor(
    path: string | undefined,
    state: HardState,
    quarantined: QuarantinedEntry[] = [],
    removed: string[] = [],
  ) {
    this.#path = path;
    this.#state = state;
    this.quarantined = quarantined;
    this.removedTemporaries = removed;
  }

  /**
   * Opens the store at `path` (created if missing); without a path, state lives in memory only.
   * Removes the temporary files of writes a crash interrupted (never acknowledged), quarantines
   * unreadable entries. Throws `InvalidStateFileError` (naming the file) when it is not a state file.
   */
  static async open(path?: string): Promise<StateStore> {
    if (!path) return new StateStore(undefined, emptyState());
    const removed = await removeTemporaries(path);
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new InvalidStateFileError(path, `cannot be read (${(error as Error).message})`, {
          cause: error,
        });
    }
    if (text === undefined) return new StateStore(path, emptyState(), [], removed);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new InvalidStateFileError(path, 'is not JSON', { cause });
    }
    const result = StateFileSchema.safeParse(parsed);
    if (!result.success) {
      const issue = result.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      throw new InvalidStateFileError(path, `is invalid: ${where}${issue?.message}`);
    }
    const { state, quarantined } = sortEntries(result.data);
    const store = new StateStore(path, state, quarantined, removed);
    if (quarantined.length) {
      // The quarantine file first: if we stop between the two writes, the entries are still in
      // the state file and are quarantined (again) at the next open, never lost.
      await appendDurably(quarantinePath(path), quarantined.map((q) => `${JSON.stringify(q)}\n`).join(''));
      await store.update(() => {});
    }
    return store;
  }

  get state(): Readonly<HardState> {
    return this.#state;
  }

  get path(): string | undefined {
    return this.#path;
  }

  /** Where unreadable entries go: `<state>.quarantine.jsonl`. */
  get quarantinePath(): string | undefined {
    return this.#path && quarantinePath(this.#path);
  }

  /**
   * Applies `change` and persists; writes are serialised, each one atomic and durable before the
   * returned promise resolves. A failed write rejects its own update only: the next one writes
   * the whole state again.
   */
  async update(change: (state: HardState) => void): Promise<void> {
    change(this.#state);
    if (this.#state.delivered.length > MAX_DELIVERED)
      this.#state.delivered.splice(0, this.#state.delivered.length - MAX_DELIVERED);
    const snapshot = JSON.stringify(this.#state, null, 1);
    const write = this.#writing.catch(() => {}).then(() => this.#write(snapshot));
    this.#writing = write;
    return write;
  }

  /** Waits for the writes under way; rejects when the last one failed. */
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
    // The rename is durable once the directory is (rename(2) and fsync(2): a crash may otherwise
    // leave the old name in place).
    await syncDirectory(dirname(this.#path));
  }
}

function quarantinePath(path: string): string {
  return `${path}.quarantine.jsonl`;
}

/** Our own temporary names only: `<state file name>.<8 hex digits>.tmp` (see `#write`). */
async function removeTemporaries(path: string): Promise<string[]> {
  const dir = dirname(path);
  const name = basename(path);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    if (!entry.startsWith(`${name}.`) || !/^\.[0-9a-f]{8}\.tmp$/.test(entry.slice(name.length))) continue;
    await unlink(join(dir, entry)).catch(() => {});
    removed.push(join(dir, entry));
  }
  return removed;
}

/** Keeps the readable entries in the state; the others become quarantine records. */
function sortEntries(file: z.infer<typeof StateFileSchema>): {
  state: HardState;
  quarantined: QuarantinedEntry[];
} {
  const at = new Date().toISOString();
  const quarantined: QuarantinedEntry[] = [];
  const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
  const users: HardState['users'] = {};
  for (const [owner, { foreignBuddies, home }] of Object.entries(file.users)) {
    const kept: RosterItemJson[] = [];
    for (const entry of foreignBuddies) {
      try {
        const item = RosterItemJson.parse(entry);
        parseAddress(item.address);
        kept.push(item);
      } catch (error) {
        quarantined.push({ at, what: 'foreign-buddy', owner, reason: reasonOf(error), entry });
      }
    }
    users[owner] = { foreignBuddies: kept, ...(home === undefined ? {} : { home }) };
  }
  const pending: HardState['pending'] = [];
  for (const entry of file.pending) {
    try {
      const held = HeldJson.parse(entry);
      const event = eventFromJson(held.request);
      if (event.kind !== 'buddy-request' && event.kind !== 'buddy-response')
        throw new Error(`a held ${event.kind} (only buddy requests and answers are held)`);
      pending.push({ request: held.request, value: held.value });
    } catch (error) {
      quarantined.push({ at, what: 'held-request', reason: reasonOf(error), entry });
    }
  }
  let plugins: PluginState | undefined;
  if (file.plugins !== undefined) {
    const read = PluginStateSchema.safeParse(file.plugins);
    if (read.success) plugins = read.data;
    else
      quarantined.push({
        at,
        what: 'plugin-state',
        reason: read.error.issues[0]?.message ?? 'invalid',
        entry: file.plugins,
      });
  }
  const { plugins: _, ...rest } = file;
  return { state: { ...rest, users, pending, ...(plugins ? { plugins } : {}) }, quarantined };
}

async function appendDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'a', 0o600);
  try {
    await handle.appendFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await syncDirectory(dirname(path));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
