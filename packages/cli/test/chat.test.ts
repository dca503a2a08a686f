import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { stanza } from '@crosstalk/codec-xmpp';
import { type RunningProsody, startProsody } from '@crosstalk/codec-xmpp/testing';
import {
  addressKey,
  type CanonicalEvent,
  type FileOfferEvent,
  parseAddress,
  WaitingInbox,
} from '@crosstalk/core';
import { startTestnet, type Testnet } from '@crosstalk/network-hyperdht';
import { bytesSource, createClient, memorySink, type ShimClient } from '@crosstalk/shim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatUsageError, parseChatLine } from '../src/chat/commands.js';
import { ProgressBar, renderProgress } from '../src/chat/progress.js';
import { ChatSession, printable } from '../src/chat/session.js';
import { main } from '../src/program.js';
import { trustFor } from './support/shim-user.js';
import { startServerTap } from './support/taps.js';
import { xml, xmppJs } from './support/xmpp-js.js';

/**
 * `crosstalk chat`, the terminal client on the client API: its line parser and progress bar, and
 * the command itself driven over stdin/stdout as a process of its own: alice@localhost on a prosody
 * that requires TLS (through the shim), on a hyperdht testnet; bob@yahoo a client-API user on a
 * node in the test process, answering; dave another user of alice's server.
 */

describe('chat lines', () => {
  it('parses every command, and text for the current conversation', () => {
    const bob = parseAddress('bob@yahoo');
    expect(parseChatLine('/msg bob@yahoo  hello  there ')).toEqual({
      type: 'msg',
      to: bob,
      text: 'hello  there ',
    });
    expect(parseChatLine('hi again')).toEqual({ type: 'say', text: 'hi again' });
    expect(parseChatLine('//not a command')).toEqual({ type: 'say', text: '/not a command' });
    expect(parseChatLine('/add bob@yahoo may I?')).toEqual({ type: 'add', to: bob, message: 'may I?' });
    expect(parseChatLine('/add bob@yahoo')).toEqual({ type: 'add', to: bob });
    expect(parseChatLine('/accept bob@yahoo')).toEqual({ type: 'answer', to: bob, accepted: true });
    expect(parseChatLine('/deny bob@yahoo')).toEqual({ type: 'answer', to: bob, accepted: false });
    expect(parseChatLine('/file bob@yahoo ./a b.txt')).toEqual({ type: 'file', to: bob, path: './a b.txt' });
    expect(parseChatLine('/get 2')).toEqual({ type: 'get', offer: 2 });
    expect(parseChatLine('/get #3 out.bin')).toEqual({ type: 'get', offer: 3, path: 'out.bin' });
    expect(parseChatLine('/presence away at lunch ☕')).toEqual({
      type: 'presence',
      status: 'away',
      text: 'at lunch ☕',
    });
    expect(parseChatLine('/typing bob@yahoo')).toEqual({ type: 'typing', to: bob });
    expect(parseChatLine('/roster')).toEqual({ type: 'roster' });
    expect(parseChatLine('/requests')).toEqual({ type: 'requests' });
    expect(parseChatLine('/quit')).toEqual({ type: 'quit' });
    expect(parseChatLine('   ')).toEqual({ type: 'none' });
  });

  it('a line that is not a command is a ChatUsageError saying how to write it', () => {
    for (const [line, says] of [
      ['/msg bob@yahoo', 'usage: /msg'],
      ['/add', 'usage: /add'],
      ['/accept', 'usage: /accept'],
      ['/get x', 'usage: /get'],
      ['/get 0', 'usage: /get'],
      ['/presence sleepy', 'usage: /presence'],
      ['/msg abc@icq hi', 'not an address'],
      ['/frobnicate', 'unknown command /frobnicate'],
    ] as const) {
      let error: unknown;
      try {
        parseChatLine(line);
      } catch (e) {
        error = e;
      }
      expect(error, line).toBeInstanceOf(ChatUsageError);
      expect((error as Error).message, line).toContain(says);
    }
  });

  it('the progress bar: drawn in place on a terminal, a line per tenth elsewhere', () => {
    expect(renderProgress(3 * 1024 * 1024, 10 * 1024 * 1024, 'a.bin', 10)).toBe(
      '[###-------]  30%  3.00 MB / 10.0 MB  a.bin',
    );
    const lines: string[] = [];
    const bar = new ProgressBar((t) => lines.push(t), { name: 'a.bin', tty: false });
    for (let received = 0; received <= 1000; received += 50) bar.update(received, 1000);
    bar.done();
    expect(lines.map((l) => /(\d+)%/.exec(l)![1])).toEqual([
      '0',
      '10',
      '20',
      '30',
      '40',
      '50',
      '60',
      '70',
      '80',
      '90',
      '100',
    ]);
    const drawn: string[] = [];
    const tty = new ProgressBar((t) => drawn.push(t), { name: 'a.bin', tty: true });
    tty.update(1, 2);
    tty.update(2, 2);
    tty.done();
    expect(drawn.every((t, i) => (i < 2 ? t.startsWith('\r') : t === '\n'))).toBe(true);
  });
});

describe('what the network says, on a terminal', () => {
  /** A client whose events the test emits, and whose getFile writes `bytes` into the sink. */
  function fakeClient(bytes: Uint8Array) {
    const listeners = new Set<(e: CanonicalEvent) => void>();
    const client = {
      on: (_type: string, l: (e: CanonicalEvent) => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      getFile: async (_offer: FileOfferEvent, sink: { write(b: Uint8Array): Promise<void> }) => {
        await sink.write(bytes);
        return {
          bytes: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          resumedFrom: 0,
        };
      },
    } as unknown as ConstructorParameters<typeof ChatSession>[0]['client'];
    const emit = (e: CanonicalEvent) => {
      for (const l of listeners) l(e);
    };
    return { client, emit };
  }

  it('control characters from the network never reach the terminal; a newline stays indented', () => {
    expect(printable('a\u001b[2Jb\u0007c\u009bd\r\ne')).toBe('a\ufffd[2Jb\ufffdc\ufffdd\n  e');
    const { client, emit } = fakeClient(new Uint8Array());
    const out: string[] = [];
    new ChatSession({ client, out: (t) => out.push(t), tty: true, downloads: tmpdir() });
    // An XMPP localpart may hold C1 controls (RFC 7622 forbids only C0): U+009B is CSI on 8-bit terminals.
    const evil = parseAddress('e\u009b2J@localhost');
    emit({
      kind: 'im',
      id: '1',
      from: evil,
      to: parseAddress('alice@localhost'),
      text: 'hi\u001b[2J\n* fake line',
      sentAt: 1,
    });
    emit({ kind: 'presence', from: evil, status: 'away', text: '\u001b[31mred' });
    expect(out.join('')).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(out[0]).toBe('<e\ufffd2J@localhost> hi\ufffd[2J\n  * fake line\n');
  });

  it("/get saves into the downloads folder under the offer's name, never outside it", async () => {
    const downloads = mkdtempSync(join(tmpdir(), 'crosstalk-chat-get-'));
    try {
      const { client, emit } = fakeClient(new TextEncoder().encode('abc'));
      const out: string[] = [];
      const session = new ChatSession({ client, out: (t) => out.push(t), tty: false, downloads });
      for (const name of ['..', '../escape.txt'])
        emit({
          kind: 'file-offer',
          id: name,
          from: parseAddress('bob@yahoo'),
          to: parseAddress('alice@localhost'),
          name,
          size: 3,
        });
      await session.line('/get 1');
      await session.line('/get 2');
      await session.stop();
      expect(readFileSync(join(downloads, 'offer-1'), 'utf8')).toBe('abc');
      expect(readFileSync(join(downloads, 'escape.txt'), 'utf8')).toBe('abc');
    } finally {
      rmSync(downloads, { recursive: true, force: true });
    }
  });
});

/** Lines a process wrote, with a wait for the next one that matches. */
function lineReader(stream: Readable) {
  const inbox = new WaitingInbox<{ at: number; line: string }>({
    timeoutMs: 20_000,
    describe: (kept) => `got:\n${kept.map((l) => l.line).join('\n')}`,
  });
  let count = 0;
  let taken = 0;
  let carry = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (carry + chunk).split('\n');
    carry = parts.pop() ?? '';
    for (const line of parts) inbox.push({ at: ++count, line });
  });
  return {
    /** The lines kept so far, oldest first. */
    get lines() {
      return inbox.items.map((l) => l.line);
    },
    /** The next line (after those already matched) that matches; rejects after `ms`. */
    async next(match: RegExp, ms = 20_000): Promise<string> {
      const found = await inbox.waitFor((l) => l.at > taken && match.test(l.line), {
        timeoutMs: ms,
        what: `a line matching ${match}`,
      });
      taken = found.at;
      return found.line;
    },
  };
}

/** Events a client hears, with a wait for the next that matches. */
function heard(client: ShimClient) {
  const inbox = new WaitingInbox<CanonicalEvent>({ name: 'bob' });
  client.on('event', (e) => inbox.push(e));
  return (match: (e: CanonicalEvent) => boolean, what: string, ms = 20_000): Promise<CanonicalEvent> =>
    inbox.take(match, { what, timeoutMs: ms });
}

const cliBin = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
const alice = parseAddress('alice@localhost');
const fromAlice = (e: CanonicalEvent) => 'from' in e && addressKey(e.from) === 'alice@localhost';

describe('crosstalk chat, driven over stdin and stdout', () => {
  let testnet: Testnet;
  let prosody: RunningProsody;
  let dir: string;
  let untrust: () => void;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    testnet = await startTestnet({ size: 10 });
    prosody = await startProsody({
      requireEncryption: true,
      users: ['alice', 'dave'].map((user) => ({ user, password: `${user}-pw` })),
    });
    untrust = trustFor(prosody.domain, prosody.certificate);
    dir = mkdtempSync(join(tmpdir(), 'crosstalk-chat-'));
    writeFileSync(join(dir, 'prosody.crt'), prosody.certificate);
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    untrust?.();
    await prosody?.stop();
    await testnet?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const chatArgs = () => [
    'chat',
    '--as',
    'alice@localhost',
    '--server',
    `127.0.0.1:${prosody.port}`,
    '--ca',
    join(dir, 'prosody.crt'),
    '--sasl',
    'PLAIN',
    '--bootstrap',
    testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(','),
    '--downloads',
    join(dir, 'downloads'),
    '--state',
    join(dir, 'alice.json'),
  ];

  it('the walk-through with a client-API user, files both ways with a progress bar, and a user of her own server', async () => {
    const bob = await createClient({
      identity: { address: parseAddress('bob@yahoo') },
      network: 'yahoo',
      hyperdht: { bootstrap: testnet.bootstrap },
      canonical: stanza,
    });
    cleanup.push(() => bob.close());
    const bobHears = heard(bob);
    const dave = xmppJs(prosody.port, 'dave', 'dave-pw');
    cleanup.push(() => dave.entity.stop());
    await dave.entity.start();
    await dave.entity.send(xml('presence', {}));

    const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@crosstalk/source', cliBin, ...chatArgs()],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, CROSSTALK_PASSWORD: 'alice-pw' } },
    );
    cleanup.push(async () => child.kill('SIGKILL'));
    const out = lineReader(child.stdout);
    const err = lineReader(child.stderr);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const type = (line: string) => child.stdin.write(`${line}\n`);

    await out
      .next(/^\* logged in as alice@localhost: XMPP over TLSv1\.[23], node [0-9a-f]{12}…$/, 60_000)
      .catch((error: Error) => {
        throw new Error(`${error.message}\nstderr:\n${err.lines.join('\n')}`);
      });
    await out.next(/type \/help/);

    // Add, request, accept.
    type('/add bob@yahoo hi bob, alice here ✓');
    await out.next(/^\* buddy request sent to bob@yahoo$/);
    const request = await bobHears((e) => e.kind === 'buddy-request' && fromAlice(e), 'the request');
    expect(request).toMatchObject({ kind: 'buddy-request', message: 'hi bob, alice here ✓' });
    await bob.answerBuddy(alice, true);
    await out.next(/^\* bob@yahoo accepted your buddy request$/);

    // IMs both ways, non-ASCII.
    type('/msg bob@yahoo Grüße aus Zürich — こんにちは 👋');
    await out.next(/^> bob@yahoo: Grüße aus Zürich — こんにちは 👋$/);
    expect(await bobHears((e) => e.kind === 'im' && fromAlice(e), 'the IM')).toMatchObject({
      text: 'Grüße aus Zürich — こんにちは 👋',
    });
    type('and a second line in the same conversation');
    expect(await bobHears((e) => e.kind === 'im' && fromAlice(e), 'the second IM')).toMatchObject({
      text: 'and a second line in the same conversation',
    });
    await bob.sendIM(alice, 'Ответ: ça va très bien ✓');
    await out.next(/^<bob@yahoo> Ответ: ça va très bien ✓$/);

    // Typing and presence both ways.
    await bob.sendTyping(alice, 'composing');
    await out.next(/^\* bob@yahoo is typing…$/);
    type('/typing bob@yahoo');
    await bobHears((e) => e.kind === 'typing' && fromAlice(e), 'typing');
    type('/presence away at lunch ☕');
    await out.next(/^\* you are away: at lunch ☕$/);
    expect(
      await bobHears((e) => e.kind === 'presence' && fromAlice(e) && e.status === 'away', 'alice away'),
    ).toMatchObject({ text: 'at lunch ☕' });
    await bob.setPresence('busy', 'in a meeting');
    await out.next(/^\* bob@yahoo is busy: in a meeting$/);
    type('/roster');
    await out.next(/^ {2}bob@yahoo +busy \(in a meeting\) +both$/);

    // A file from bob: offered, fetched with /get, the progress bar on the way, checked on disk.
    const photo = randomBytes(3 * 1024 * 1024 + 17);
    await bob.sendFile(alice, bytesSource('photo.bin', photo));
    await out.next(/^\* bob@yahoo offers photo\.bin \(3\.00 MB\) — \/get 1$/);
    type('/get 1');
    await out.next(/^\[#*-*\] +\d+% .* photo\.bin$/);
    await out.next(/^\[#{24}\] 100% {2}3\.00 MB \/ 3\.00 MB {2}photo\.bin$/);
    await out.next(/^\* saved photo\.bin to .*photo\.bin \(3\.00 MB, sha256 [0-9a-f]{16}… checked\)$/);
    const saved = readFileSync(join(dir, 'downloads', 'photo.bin'));
    expect(createHash('sha256').update(saved).digest('hex')).toBe(
      createHash('sha256').update(photo).digest('hex'),
    );

    // A file to bob: offered with /file, fetched peer to peer by bob's node.
    const notes = Buffer.from('notes from alice ✓\n'.repeat(20_000));
    writeFileSync(join(dir, 'notes.txt'), notes);
    type(`/file bob@yahoo ${join(dir, 'notes.txt')}`);
    await out.next(/^\* offered notes\.txt \(.*\) to bob@yahoo$/);
    const offer = await bobHears((e) => e.kind === 'file-offer' && fromAlice(e), 'the offer');
    const sink = memorySink();
    await bob.getFile(offer as FileOfferEvent, sink);
    expect(Buffer.from(sink.bytes()).equals(notes)).toBe(true);
    await out.next(/^\* notes\.txt \(to bob@yahoo\) was fetched: .* sent$/);

    // dave is on alice's own server: her IM goes through it, and his answer comes back the same way.
    type('/msg dave@localhost hello dave, same server ✓');
    const toDave = await dave.receive(
      (el) => el.name === 'message' && el.attrs.from?.startsWith('alice@localhost/') === true,
      "alice's IM",
    );
    expect(toDave.getChildText('body')).toBe('hello dave, same server ✓');
    await dave.entity.send(
      xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, 'hi alice!')),
    );
    await out.next(/^<dave@localhost> hi alice!$/);

    // Mistakes are told and the chat goes on.
    type('/frobnicate');
    await out.next(/^! unknown command \/frobnicate/);
    type('/msg nobody@yahoo are you there?');
    await out.next(/^! .*\(ERR_UNKNOWN_USER\)$/);

    type('/quit');
    await out.next(/^\* logged out$/);
    expect(await exited).toBe(0);
    await bobHears((e) => e.kind === 'presence' && fromAlice(e) && e.status === 'offline', 'alice offline');
  }, 120_000);

  it('a login the server refuses: exit 3, the reason on stderr', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const errors = lineReader(stderr);
    process.env.CROSSTALK_TEST_WRONG = 'not-the-password';
    try {
      const code = await main(
        [...chatArgs().slice(0, 9), '--password-env', 'CROSSTALK_TEST_WRONG', '--dht', 'memory'],
        { stdin, stdout, stderr },
      );
      expect(code).toBe(3);
    } finally {
      delete process.env.CROSSTALK_TEST_WRONG;
    }
    expect(
      await errors.next(/^crosstalk chat: cannot start as alice@localhost: .*\(ERR_BASE_LOGIN_FAILED\)$/),
    ).toBeTruthy();
  });

  it('the XMPP connection lost mid-chat: the reason on stderr, logged out of CrossTalk too, exit 4', async () => {
    const tap = await startServerTap(prosody);
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out = lineReader(stdout);
    const errors = lineReader(stderr);
    process.env.CROSSTALK_TEST_PW = 'alice-pw';
    try {
      const args = chatArgs();
      args[4] = `127.0.0.1:${tap.port}`; // --server: through the tap, which the test then cuts
      const running = main([...args.slice(0, 9), '--password-env', 'CROSSTALK_TEST_PW', '--dht', 'memory'], {
        stdin,
        stdout,
        stderr,
      });
      await out.next(/^\* logged in as alice@localhost/, 30_000);
      await tap.close();
      await errors.next(/^crosstalk chat: the (XMPP connection failed|connection to the XMPP server ended)/);
      await out.next(/^\* logged out$/);
      expect(await running).toBe(4);
    } finally {
      delete process.env.CROSSTALK_TEST_PW;
    }
  });

  it('--help explains the command, its commands and its exit codes', async () => {
    const stdout = new PassThrough();
    const text = lineReader(stdout);
    const code = await main(['chat', '--help'], {
      stdin: new PassThrough(),
      stdout,
      stderr: new PassThrough(),
    });
    expect(code).toBe(0);
    await text.next(/^Usage: crosstalk chat \[options\]$/);
    for (const expected of [
      /through the shim/,
      /--as <address>/,
      /--ca <file>/,
      /\/get <n> \[path\]/,
      /Exits 0 .* 3 if/,
    ])
      await text.next(expected);
    expect(text.lines.every((l) => l.length <= 80)).toBe(true);
  });
});
