import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { toyCodec, toyFrame } from '@crosstalk/compliance';
import { CodecRegistry, toHex } from '@crosstalk/core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { testDir } from '../../gateway/test/support/temp-dir.js';
import { main } from '../src/index.js';

const toys = () => new CodecRegistry([toyCodec()]);

async function run(argv: string[], stdin: string | Uint8Array = '', registry = toys()) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => err.push(d));
  const code = await main(argv, { stdin: Readable.from([stdin]), stdout, stderr }, registry);
  return {
    code,
    stdout: Buffer.concat(out).toString(),
    raw: Buffer.concat(out),
    stderr: Buffer.concat(err).toString(),
  };
}

const stream = Uint8Array.from([
  ...toyFrame('T:hello'),
  ...toyFrame(Uint8Array.of(1, 2)),
  ...toyFrame('T:wörld'),
]);

describe('crosstalk decode', () => {
  it('prints one JSON line per frame with its bytes, from hex split anywhere', async () => {
    const hex = toHex(stream).replace(/(.{5})/g, '$1 \n');
    const { code, stdout } = await run(
      ['decode', '--protocol', 'toy', '--direction', 'client', '--input', 'hex'],
      hex,
    );
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { frame: { type: 'text', text: 'hello' }, events: [], bytes: toHex(toyFrame('T:hello')) },
      { frame: { type: 'raw', payload: { $hex: '0102' } }, events: [], bytes: 'c700020102' },
      { frame: { type: 'text', text: 'wörld' }, events: [], bytes: toHex(toyFrame('T:wörld')) },
    ]);
  });

  it('reads raw bytes too', async () => {
    const { code, stdout } = await run(['decode', '-p', 'toy', '-d', 'server'], stream);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(3);
  });

  it('reports a protocol error as JSON with its offset and exits 2', async () => {
    const bad = Uint8Array.from([...toyFrame('T:ok'), 0x00, 0x01, 0x02]);
    const { code, stdout } = await run(['decode', '-p', 'toy', '-d', 'client'], bad);
    expect(code).toBe(2);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[1].error).toMatchObject({ name: 'MalformedFrameError', offset: 7 });
  });

  it('reports a stream that ends inside a frame', async () => {
    const { code, stdout } = await run(
      ['decode', '-p', 'toy', '-d', 'client'],
      toyFrame('T:cut').subarray(0, 5),
    );
    expect(code).toBe(2);
    expect(JSON.parse(stdout).error.name).toBe('TruncatedStreamError');
  });

  it('rejects input that is not hex', async () => {
    const { code, stdout } = await run(['decode', '-p', 'toy', '-d', 'client', '-i', 'hex'], 'c7 zz');
    expect(code).toBe(2);
    expect(JSON.parse(stdout).error.message).toMatch(/not hex/);
  });
});

describe('crosstalk encode', () => {
  it('turns decoded frames back into the same bytes (decode | encode is the identity)', async () => {
    const decoded = await run(['decode', '-p', 'toy', '-d', 'client'], stream);
    const { code, stdout } = await run(['encode', '-p', 'toy', '-d', 'client'], decoded.stdout);
    expect(code).toBe(0);
    expect(stdout.replace(/\n/g, '')).toBe(toHex(stream));
  });

  it('writes raw bytes with --output raw', async () => {
    const { raw } = await run(
      ['encode', '-p', 'toy', '-d', 'client', '-o', 'raw'],
      '{"frame":{"type":"text","text":"hi"}}\n',
    );
    expect(raw).toEqual(Buffer.from(toyFrame('T:hi')));
  });

  it('explains what is wrong with a bad line and exits 2', async () => {
    const bad = await run(
      ['encode', '-p', 'toy', '-d', 'client'],
      '{"frame":{"type":"text","text":"ok"}}\n{"nothing":1}\n',
    );
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stderr).error).toMatchObject({
      line: 2,
      message: expect.stringMatching(/"event"/),
    });
    const invalid = await run(
      ['encode', '-p', 'toy', '-d', 'client'],
      '{"event":{"kind":"im","from":"x"}}\n',
    );
    expect(invalid.code).toBe(2);
    expect(JSON.parse(invalid.stderr).error.name).toBe('InvalidEventError');
  });

  it('says which events a protocol cannot carry', async () => {
    const im = { kind: 'im', id: '1', from: 'alice@aol', to: 'bob@yahoo', text: 'hi', sentAt: 0 };
    const { code, stderr } = await run(
      ['encode', '-p', 'toy', '-d', 'server'],
      JSON.stringify({ event: im }),
    );
    expect(code).toBe(2);
    expect(JSON.parse(stderr).error).toMatchObject({
      name: 'UnsupportedEventError',
      code: 'ERR_UNSUPPORTED_EVENT',
    });
  });
});

describe('crosstalk help and errors', () => {
  for (const command of ['decode', 'encode', 'protocols']) {
    it(`${command} --help explains itself`, async () => {
      const { code, stdout } = await run([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Usage: crosstalk /);
      if (command !== 'protocols') expect(stdout).toMatch(/--direction <side>[\s\S]*client/);
    });
  }

  it('an unknown protocol names the known ones', async () => {
    const { code, stderr } = await run(['decode', '-p', 'aim', '-d', 'client']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/unknown protocol "aim"; known: toy/);
  });

  it('a missing direction is a usage error', async () => {
    const { code, stderr } = await run(['decode', '-p', 'toy']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/--direction/);
  });

  it('protocols lists the registered codecs, or says there are none', async () => {
    expect((await run(['protocols'])).stdout).toMatch(/^toy\s+networks: toy/);
    expect((await run(['protocols'], '', new CodecRegistry())).stdout).toMatch(
      /No codecs are registered yet/,
    );
    const json = JSON.parse((await run(['protocols', '--json'])).stdout);
    expect(json[0]).toMatchObject({ protocol: 'toy', networks: ['toy'], features: [] }); // the toy only relays
  });
});

// The package's bin as npm links it: a committed file (npm ci links bins before anything is built).
const bin = fileURLToPath(new URL('../bin/crosstalk.js', import.meta.url));

describe('--help', () => {
  it('fits 80 columns and lists each command on one line', async () => {
    const top = (await run(['--help'])).stdout;
    const list = top
      .slice(top.indexOf('Commands:\n') + 'Commands:\n'.length)
      .trimEnd()
      .split('\n');
    // One line per command: `  name [options]   summary`.
    expect(list.every((line) => /^ {2}\S/.test(line))).toBe(true);
    expect(list.map((line) => line.trim().split(/\s/)[0])).toEqual([
      'decode',
      'encode',
      'gateway',
      'route',
      'dht-node',
      'sip-exit',
      'chat',
      'demo',
      'protocols',
      'help',
    ]);
    for (const argv of [
      [],
      ['decode'],
      ['encode'],
      ['gateway'],
      ['route'],
      ['dht-node'],
      ['sip-exit'],
      ['chat'],
      ['demo'],
      ['protocols'],
    ]) {
      const { stdout } = await run([...argv, '--help']);
      const long = stdout.split('\n').filter((line) => line.length > 80);
      expect(long, `crosstalk ${argv.join(' ')} --help`).toEqual([]);
    }
  });
});

describe('the installed bin', () => {
  it('is the file package.json names, committed rather than built, so npm ci can link it', async () => {
    const manifest = JSON.parse(
      await readFile(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'),
    ) as { bin: Record<string, string>; files: string[] };
    expect(manifest.bin.crosstalk).toBe('./bin/crosstalk.js');
    expect(manifest.files).toContain('bin');
    const { stdout } = await promisify(execFile)('git', ['ls-files', '--error-unmatch', bin]);
    expect(stdout.trim()).toMatch(/bin\/crosstalk\.js$/);
  });

  it('runs from the build and prints help (npm test builds first)', async () => {
    expect(existsSync(bin), `${bin} is missing: run npm run build`).toBe(true);
    const { stdout } = await promisify(execFile)(process.execPath, [bin, '--help']);
    expect(stdout).toMatch(/Usage: crosstalk[\s\S]*decode[\s\S]*encode/);
  });

  it('says how to build when the build is missing, and exits 1', async () => {
    const dir = await testDir('bin');
    await mkdir(join(dir, 'bin'));
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    await copyFile(bin, join(dir, 'bin', 'crosstalk.js'));
    const child = spawn(process.execPath, [join(dir, 'bin', 'crosstalk.js'), '--help'], { stdio: 'pipe' });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(err).toMatch(/dist\/bin\.js is missing.*run `npm run build`/);
  });
});

describe('crosstalk decode | a reader that stops early', () => {
  it('stops quietly with 0 when its reader closes the pipe (`... | head`)', async () => {
    const fixture = await readFile(
      fileURLToPath(new URL('../../../fixtures/streams/oscar-client.hex', import.meta.url)),
    );
    const child = spawn(process.execPath, [bin, 'decode', '-p', 'oscar', '-d', 'client', '-i', 'hex'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    onTestFinished(() => {
      child.kill();
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdin.on('error', () => {}); // the child may stop reading before it has all of its input
    // Far more output than a pipe holds, so decode is still writing when the reader goes away.
    child.stdin.end(Buffer.concat(Array.from({ length: 300 }, () => fixture)));
    await once(child.stdout, 'data');
    child.stdout.destroy();
    const [code] = await once(child, 'exit');
    expect(err).toBe('');
    expect(code).toBe(0);
  });
});

describe('crosstalk gateway', () => {
  it('starts from the build, explains how to point a client at it, relays, and stops on SIGTERM', async () => {
    const { socksConnect, startEchoServer } = await import('@crosstalk/gateway/testing');
    const echo = await startEchoServer();
    const child = spawn(
      process.execPath,
      [bin, 'gateway', '--socks', '127.0.0.1:0', '--log-level', 'silent'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    while (!/Stop with Ctrl-C/.test(out)) {
      if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(out).toMatch(/SOCKS4 proxy\s+127\.0\.0\.1:\d+/);
    expect(out).toMatch(/choose SOCKS4/);
    const port = Number(/SOCKS4 proxy\s+127\.0\.0\.1:(\d+)/.exec(out)![1]);
    const socket = await socksConnect({ host: '127.0.0.1', port }, echo.host, echo.port);
    socket.write('ping');
    const [data] = await once(socket, 'data');
    expect(String(data)).toBe('ping');
    socket.destroy();
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(out).toMatch(/Shutting down/);
    await echo.close();
  });

  it('exits 3 with a one-line reason when its SOCKS port is taken, leaving nothing open', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    const child = spawn(
      process.execPath,
      [bin, 'gateway', '--socks', `127.0.0.1:${port}`, '--log-level', 'silent'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    onTestFinished(() => {
      child.kill();
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    // Before the fix the process never exited (the G2G listener stayed open): the test's own
    // timeout is what catches a hang here.
    const [code] = await once(child, 'exit');
    taken.close();
    expect(code).toBe(3);
    expect(err.trim().split('\n')).toEqual([
      `crosstalk gateway: cannot listen for SOCKS4 on 127.0.0.1:${port}: the address is already in use ` +
        '(EADDRINUSE); choose another with --socks host:port',
    ]);
  });

  it('gateway --help lists its flags and defaults', async () => {
    const { code, stdout } = await run(['gateway', '--help']);
    expect(code).toBe(0);
    for (const flag of [
      '--config <file>',
      '--socks <host:port>',
      '--g2g <host:port>',
      '--state <file>',
      '--plugin <name>',
      '127.0.0.1:1080',
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  it('a corrupt identity key in the state file: one line naming the file, exit 3 (could not start)', async () => {
    const dir = await testDir('cli');
    const state = join(dir, 'state.json');
    const identity = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n';
    await writeFile(state, JSON.stringify({ version: 1, identity, users: {}, pending: [], delivered: [] }));
    const { code, stderr } = await run(['gateway', '--state', state, '--socks', '127.0.0.1:0']);
    expect(code).toBe(3);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(state);
    expect(stderr).toMatch(/gateway key/);
  });

  it('exits with one line when a port is taken, instead of hanging on the listeners it opened', async () => {
    const { spawn } = await import('node:child_process');
    const { createServer } = await import('node:net');
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const port = (busy.address() as { port: number }).port;
    const source = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@crosstalk/source',
        source,
        'gateway',
        '--socks',
        `127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // A gateway that hangs instead of exiting is stopped here, and the test fails on its exit code.
    const stop = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [code] = await once(child, 'exit');
    clearTimeout(stop);
    busy.close();
    expect(code).toBe(3);
    expect(
      stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('{')),
    ).toEqual([expect.stringMatching(/EADDRINUSE/)]);
  }, 20_000);

  it('passes the config file limits to the gateway', async () => {
    const { parseConfig } = await import('@crosstalk/gateway');
    const { startGatewayFromConfig } = await import('../src/commands/gateway.js');
    const { socksConnect, startEchoServer } = await import('@crosstalk/gateway/testing');
    const config = parseConfig({
      socks: { port: 0 },
      log: { level: 'silent' },
      limits: { socksConnectionsPerSource: 1 },
      timeouts: { g2gHandshake: 1000 },
    });
    expect(() => parseConfig({ limits: { socksConnection: 1 } })).toThrow(/limits/);
    expect(parseConfig({ heldRetry: [1000], heldPoll: 0 })).toMatchObject({ heldRetry: [1000], heldPoll: 0 });
    expect(() => parseConfig({ heldPoll: -1 })).toThrow(/heldPoll/);
    expect(() => parseConfig({ heldRetry: [-5] })).toThrow(/heldRetry/);
    expect(parseConfig({ g2gVersion: 1 })).toMatchObject({ g2gVersion: 1 });
    expect(() => parseConfig({ g2gVersion: 3 })).toThrow(/g2gVersion/);
    const echo = await startEchoServer();
    const gateway = await startGatewayFromConfig(toys(), config);
    const first = await socksConnect(gateway.socks, echo.host, echo.port);
    await expect(socksConnect(gateway.socks, echo.host, echo.port)).rejects.toThrow();
    first.destroy();
    await gateway.close();
    await echo.close();
  });

  it('--canonical names the G2G forms the gateway speaks and converts between; an unknown name is refused', async () => {
    const { resolveGatewayConfig, startGatewayFromConfig } = await import('../src/commands/gateway.js');
    const dir = await testDir('cli');
    const file = join(dir, 'gw.json');
    await writeFile(file, JSON.stringify({ socks: { port: 0 }, log: { level: 'silent' } }));
    const config = await resolveGatewayConfig({ config: file, canonical: 'json,xmpp-stanza' });
    expect(config.canonical).toEqual(['json', 'xmpp-stanza']);
    const gateway = await startGatewayFromConfig(toys(), config);
    try {
      expect(gateway.routing.capabilities()).toEqual(
        expect.arrayContaining([
          'canonical:json>canonical:xmpp-stanza',
          'canonical:xmpp-stanza>canonical:json',
        ]),
      );
    } finally {
      await gateway.close();
    }
    await expect(resolveGatewayConfig({ config: file, canonical: 'json,protobuf' })).rejects.toThrow(
      /unknown canonical form "protobuf" \(known: json, xmpp-stanza\)/,
    );
  });

  it('runs the plugins the config file lists and those --plugin names, and says so', async () => {
    const { resolveGatewayConfig, startGatewayFromConfig, describeGateway } = await import(
      '../src/commands/gateway.js'
    );
    const dir = await testDir('cli');
    const file = join(dir, 'gw.json');
    await writeFile(
      file,
      JSON.stringify({
        socks: { port: 0 },
        log: { level: 'silent' },
        plugins: [{ name: 'location', enabledFor: ['*'], addressMap: { '127.0.0.1': '132.239.1.1' } }],
        pluginSettings: { timeout: 3000 },
      }),
    );
    const config = await resolveGatewayConfig({ config: file, plugin: ['music', 'location'] });
    expect(config.plugins.map((p) => p.name)).toEqual(['location', 'music']);
    const gateway = await startGatewayFromConfig(toys(), config);
    try {
      expect(gateway.plugins.list()).toEqual(['location', 'music']);
      expect(gateway.plugins.isEnabled({ user: 'bob', network: 'yahoo' }, 'location')).toBe(true);
      expect(gateway.plugins.isEnabled({ user: 'bob', network: 'yahoo' }, 'music')).toBe(false);
      expect(describeGateway(gateway, ['toy'])).toMatch(
        /plugins {8}location, music \(users IM crosstalk@crosstalk: \/plugins, \/help\)/,
      );
    } finally {
      await gateway.close();
    }
  });

  it('a bad plugin entry is refused with the entry and field that are wrong, before anything starts', async () => {
    const dir = await testDir('cli');
    const cases: [unknown, RegExp][] = [
      [
        { name: 'weather' },
        /plugins\[0\]\.name: unknown plugin "weather"; the crosstalk command knows location, music/,
      ],
      [
        { name: 'location', addressMap: { '127.0.0.1': 'home' } },
        /plugins\[0\]\.addressMap\.127\.0\.0\.1: expected an IP address/,
      ],
      [{ name: 'music', provider: 'spotify' }, /plugins\[0\]\.provider/],
      [
        { name: 'music', provider: 'lastfm' },
        /plugins\[0\]\.lastfm\.apiKey: the Last\.fm provider needs an API key/,
      ],
      [{ name: 'music', mpd: { port: 6600, volume: 11 } }, /plugins\[0\]\.mpd/],
      [{ name: 'Location' }, /plugins\.0\.name: a plugin name is a lower-case id/],
    ];
    for (const [entry, message] of cases) {
      const file = join(dir, 'gw.json');
      await writeFile(file, JSON.stringify({ socks: { port: 0 }, plugins: [entry] }));
      const saved = process.env.LASTFM_API_KEY;
      delete process.env.LASTFM_API_KEY;
      const { code, stderr } = await run(['gateway', '--config', file]).finally(() => {
        if (saved !== undefined) process.env.LASTFM_API_KEY = saved;
      });
      expect(code, JSON.stringify(entry)).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
    }
    const { code, stderr } = await run(['gateway', '--plugin', 'weather', '--socks', '127.0.0.1:0']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/unknown plugin "weather"/);
  });

  it('a bad config file is refused with the field that is wrong', async () => {
    const dir = await testDir('cli');
    const file = join(dir, 'gw.json');
    await writeFile(file, JSON.stringify({ socks: { port: 'x' } }));
    const { code, stderr } = await run(['gateway', '--config', file]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/socks\.port/);
  });
});
