import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mpd from 'mpd2';

/** A song for the test player: generated as a tone, tagged with these Vorbis comments. */
/** A track for `startMpd` to make: a tagged FLAC of a sine tone. */
export interface TestTrack {
  /** The ARTIST tag. */
  artist: string;
  /** The TITLE tag. */
  title: string;
  /** The ALBUM tag; none when absent. */
  album?: string;
  /** Length in seconds (default 30); the player repeats the list, so it never stops on its own. */
  seconds?: number;
}

/** A running MPD (`startMpd`) and ways to drive it. */
export interface TestMpd {
  /** Where it listens: 127.0.0.1. */
  readonly host: string;
  /** Its TCP port (a free one). */
  readonly port: number;
  /** The music directory (the generated files are `01.flac`, `02.flac`, ...). */
  readonly dir: string;
  /** Plays the `index`-th track (0-based) and waits until MPD says it is playing. */
  play(index?: number): Promise<void>;
  /** Pauses playback (MPD state `pause`). */
  pause(): Promise<void>;
  /** Stops playback (MPD state `stop`). */
  stopPlayback(): Promise<void>;
  /** Sends one MPD command and returns its answer. */
  command(line: string): Promise<string>;
  /** Stops the daemon and removes its files. */
  stop(): Promise<void>;
}

const run = promisify(execFile);

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * A real Music Player Daemon (Debian's `mpd`) for tests and examples: tagged FLAC files made with
 * `sox`, a config with a null audio output, no zeroconf, bound to 127.0.0.1 on a free port, its
 * database built and the tracks queued (repeating). Needs `mpd` and `sox` on the PATH.
 */
export async function startMpd(options: { tracks: readonly TestTrack[] }): Promise<TestMpd> {
  const root = await mkdtemp(join(tmpdir(), 'crosstalk-mpd-'));
  const dir = join(root, 'music');
  await mkdir(dir);
  try {
    for (const [i, track] of options.tracks.entries()) {
      const comments = [`ARTIST=${track.artist}`, `TITLE=${track.title}`];
      if (track.album) comments.push(`ALBUM=${track.album}`);
      const file = join(dir, `${String(i + 1).padStart(2, '0')}.flac`);
      await run('sox', [
        '-n',
        ...['-r', '8000', '-c', '1', '-b', '16'],
        ...comments.flatMap((c, j) => [j === 0 ? '--comment' : '--add-comment', c]),
        file,
        ...['synth', String(track.seconds ?? 30), 'sine', '440'],
      ]);
    }
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw new Error(
      `startMpd: could not make the test files with sox (install it: apt-get install sox): ${error}`,
    );
  }
  let lastError: unknown;
  // A free port can be taken between the probe and mpd's bind: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = join(root, `mpd-${port}.conf`);
    await writeFile(
      config,
      [
        `music_directory "${dir}"`,
        `db_file "${join(root, 'database')}"`,
        `log_file "${join(root, 'mpd.log')}"`,
        'bind_to_address "127.0.0.1"',
        `port "${port}"`,
        'zeroconf_enabled "no"',
        'auto_update "no"',
        'audio_output {',
        '  type "null"',
        '  name "null"',
        '}',
        '',
      ].join('\n'),
    );
    let child: ChildProcess;
    try {
      child = spawn('mpd', ['--no-daemon', '--stderr', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      lastError = error;
      break;
    }
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = once(child, 'exit').then(() => undefined);
    const spawnError = once(child, 'error').then(([e]) => e as Error);
    try {
      const client = await Promise.race([
        connectWhenUp(port),
        spawnError.then((e) => {
          throw new Error(`startMpd: cannot run mpd (install it: apt-get install mpd): ${e.message}`);
        }),
        exited.then(() => {
          throw new Error(`startMpd: mpd exited: ${stderr.trim()}`);
        }),
      ]);
      await prepare(client, options.tracks.length);
      return handle(client, child, port, dir, root);
    } catch (error) {
      lastError = error;
      child.kill('SIGKILL');
      await exited;
      if (/cannot run mpd/.test(String(error))) break;
    }
  }
  await rm(root, { recursive: true, force: true });
  throw lastError;
}

type Client = Awaited<ReturnType<typeof mpd.connect>>;

async function connectWhenUp(port: number): Promise<Client> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await mpd.connect({ host: '127.0.0.1', port });
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`startMpd: mpd never listened on ${port}: ${error}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Builds the database, queues every file in order, repeating. */
async function prepare(client: Client, count: number): Promise<void> {
  await client.sendCommand('update');
  const deadline = Date.now() + 20_000;
  for (;;) {
    const status = await client.sendCommand('status');
    const files = (await client.sendCommand('listall')).split('\n').filter((l) => l.startsWith('file: '));
    if (!status.includes('updating_db') && files.length >= count) break;
    if (Date.now() > deadline) throw new Error(`startMpd: mpd found ${files.length} of ${count} files`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await client.sendCommand('clear');
  for (let i = 1; i <= count; i++) await client.sendCommand(`add "${String(i).padStart(2, '0')}.flac"`);
  await client.sendCommand('repeat 1');
}

function handle(client: Client, child: ChildProcess, port: number, dir: string, root: string): TestMpd {
  const waitFor = async (state: string) => {
    const deadline = Date.now() + 10_000;
    while (!(await client.sendCommand('status')).includes(`state: ${state}`)) {
      if (Date.now() > deadline) throw new Error(`mpd never reached state ${state}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    host: '127.0.0.1',
    port,
    dir,
    async play(index = 0) {
      await client.sendCommand(`play ${index}`);
      await waitFor('play');
    },
    async pause() {
      await client.sendCommand('pause 1');
      await waitFor('pause');
    },
    async stopPlayback() {
      await client.sendCommand('stop');
      await waitFor('stop');
    },
    command: (line) => client.sendCommand(line),
    async stop() {
      await client.disconnect().catch(() => {});
      if (child.exitCode !== null || child.signalCode !== null) {
        await rm(root, { recursive: true, force: true });
        return;
      }
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      await rm(root, { recursive: true, force: true });
    },
  };
}
