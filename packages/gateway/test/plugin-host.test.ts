import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CanonicalEvent,
  definePlugin,
  type ImEvent,
  isCrossTalkError,
  PLUGIN_REPLY_ID_PREFIX,
  type Plugin,
  type PluginInit,
  parseAddress,
  SYSTEM_ADDRESS,
} from '@crosstalk/core';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PluginHost, type PluginReport, type PluginSettings, StateStore } from '../src/index.js';
import { emptyPluginState } from '../src/plugins/plugin-state.js';
import { testDir } from './support/temp-dir.js';

const bob = parseAddress('bob@yahoo');
const alice = parseAddress('alice@aol');
const carol = parseAddress('carol@hotmail.com@msn');

const plugin = (init: Partial<PluginInit> & Pick<PluginInit, 'handle'>): Plugin =>
  definePlugin({ name: 'echo', commands: ['/echo'], description: 'says it back', ...init });
const echo = plugin({ handle: async (r) => ({ text: `${r.user.address.user} heard ${r.args}` }) });

let ids = 0;
const im = (from: typeof bob, to: typeof bob, text: string, id = `m${++ids}`): ImEvent => ({
  kind: 'im',
  id,
  from,
  to,
  text,
  sentAt: 0,
});

/** A host with a real state store, recording what it sends, delivers and reports. */
async function host(
  plugins: readonly Plugin[],
  settings: PluginSettings = { enabledFor: Object.fromEntries(plugins.map((p) => [p.name, ['*']])) },
  options: { path?: string; now?: () => number } = {},
) {
  const store = await StateStore.open(options.path);
  const sent: CanonicalEvent[] = [];
  const delivered: ImEvent[] = [];
  const reports: PluginReport[] = [];
  const h = new PluginHost({
    plugins,
    settings,
    state: {
      read: () => store.state.plugins,
      update: (change) =>
        store.update((s) => {
          s.plugins ??= emptyPluginState();
          change(s.plugins);
        }),
    },
    send: async (event) => {
      if (event.to.user === 'offline') throw new Error('offline');
      sent.push(event);
    },
    deliver: (event) => {
      delivered.push(event);
      return true;
    },
    report: (r) => reports.push(r),
    log: pino({ enabled: false }),
    now: options.now ?? Date.now,
    newId: () => `id${++ids}`,
  });
  const texts = () => sent.map((e) => (e.kind === 'im' ? e.text : e.kind));
  return { h, store, sent, delivered, reports, texts };
}

describe('the plugin at Y', () => {
  it('answers the sender on the user behalf, from the user, as a marked IM', async () => {
    const { h, sent, reports } = await host([echo]);
    await h.answer(() => ({ address: bob, clientAddress: '127.0.0.1' }), im(alice, bob, '/echo  hi there '));
    expect(sent).toEqual([
      expect.objectContaining({ kind: 'im', from: bob, to: alice, text: 'bob heard hi there' }),
    ]);
    expect((sent[0] as ImEvent).id.startsWith(PLUGIN_REPLY_ID_PREFIX)).toBe(true);
    expect(reports).toEqual([
      { plugin: 'echo', command: '/echo', user: bob, from: alice, origin: 'buddy', outcome: 'answered' },
    ]);
  });

  it('stays silent for text that is no command, an unknown command, or a plugin the user has off', async () => {
    const { h, sent, reports } = await host([echo], {});
    for (const text of ['hello /echo', '/nope', '/echo hi', '/', '//echo'])
      await h.answer(() => ({ address: bob }), im(alice, bob, text));
    expect(sent).toEqual([]);
    expect(reports).toEqual([]);
  });

  it('never answers a plugin answer (two users with plugins on cannot loop)', async () => {
    const loud = plugin({ handle: async () => ({ text: '/echo again' }) });
    const { h, sent } = await host([loud]);
    await h.answer(() => ({ address: bob }), im(alice, bob, '/echo', `${PLUGIN_REPLY_ID_PREFIX}x`));
    expect(sent).toEqual([]);
    // And what it sends is marked, so the other side does not answer it either.
    await h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
    expect((sent[0] as ImEvent).id.startsWith(PLUGIN_REPLY_ID_PREFIX)).toBe(true);
  });

  it('two plugins on one command: the higher priority answers, whatever the registration order', async () => {
    const low = plugin({ name: 'low', priority: 1, handle: async () => ({ text: 'low' }) });
    const high = plugin({ name: 'high', priority: 5, handle: async () => ({ text: 'high' }) });
    for (const order of [
      [low, high],
      [high, low],
    ]) {
      const { h, texts } = await host(order);
      await h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
      expect(texts()).toEqual(['high']);
    }
    // With the higher one off for bob, the lower one answers.
    const { h, texts } = await host([low, high], { enabledFor: { low: ['*'], high: ['alice@aol'] } });
    await h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
    expect(texts()).toEqual(['low']);
  });

  it('enabledFor names users or everyone; a user choice overrides it and survives a restart', async () => {
    const dir = await testDir('plugins');
    const path = join(dir, 'state.json');
    const first = await host([echo], { enabledFor: { echo: ['Bob@yahoo'] } }, { path });
    expect(first.h.isEnabled(bob, 'echo')).toBe(true);
    expect(first.h.isEnabled(alice, 'echo')).toBe(false);
    await first.h.setEnabled(bob, 'echo', false);
    await first.h.setEnabled(alice, 'echo', true);
    const saved = JSON.parse(await readFile(path, 'utf8'));
    expect(saved.plugins.enabled).toEqual({ 'bob@yahoo': { echo: false }, 'alice@aol': { echo: true } });
    const again = await host([echo], { enabledFor: { echo: ['bob@yahoo'] } }, { path });
    expect(again.h.isEnabled(bob, 'echo')).toBe(false);
    expect(again.h.isEnabled(alice, 'echo')).toBe(true);
    await again.h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
    expect(again.sent).toEqual([]);
  });

  it("a plugin's store for a user is in the state file and survives a restart", async () => {
    const dir = await testDir('plugins');
    const path = join(dir, 'state.json');
    const counter = plugin({
      handle: async (_r, ctx) => {
        const n = Number((await ctx.store.get('n')) ?? 0) + 1;
        await ctx.store.set('n', String(n));
        return { text: `asked ${n} times` };
      },
    });
    const first = await host([counter], undefined, { path });
    await first.h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
    await first.h.answer(() => ({ address: bob }), im(carol, bob, '/echo'));
    expect(JSON.parse(await readFile(path, 'utf8')).plugins.stores).toEqual({
      echo: { 'bob@yahoo': { n: '2' } },
    });
    const again = await host([counter], undefined, { path });
    await again.h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
    expect(again.texts()).toEqual(['asked 3 times']);
  });
});

describe('what a plugin cannot do to the gateway', () => {
  const failing: [string, PluginInit['handle'], string, string][] = [
    [
      'throws at once',
      () => {
        throw new Error('boom');
      },
      'failed',
      '/echo could not answer (the plugin failed).',
    ],
    [
      'rejects',
      async () => Promise.reject(new TypeError('x is undefined')),
      'failed',
      '/echo could not answer (the plugin failed).',
    ],
    [
      'rejects with a non-error',
      async () => Promise.reject('a string'),
      'failed',
      '/echo could not answer (the plugin failed).',
    ],
    [
      'answers 1 MB',
      async () => ({ text: 'x'.repeat(1024 * 1024) }),
      'reply-too-long',
      '/echo could not answer (its answer was too long).',
    ],
    [
      'answers 1 MB of markup',
      async () => ({ text: 'ok', html: 'x'.repeat(1024 * 1024) }),
      'reply-too-long',
      '/echo could not answer (its answer was too long).',
    ],
    [
      'answers a string',
      async () => 'just text' as never,
      'invalid-reply',
      '/echo could not answer (its answer could not be sent).',
    ],
    [
      'answers an empty text',
      async () => ({ text: '  ' }),
      'invalid-reply',
      '/echo could not answer (its answer could not be sent).',
    ],
    [
      'answers a NUL',
      async () => ({ text: 'a\u0000b' }),
      'invalid-reply',
      '/echo could not answer (its answer could not be sent).',
    ],
    [
      'answers a lone surrogate',
      async () => ({ text: 'a\ud800b' }),
      'invalid-reply',
      '/echo could not answer (its answer could not be sent).',
    ],
  ];
  for (const [what, handle, outcome, text] of failing) {
    it(`a plugin that ${what}: the asker gets a short error reply from the user`, async () => {
      const { h, sent, reports } = await host([plugin({ handle })]);
      await h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
      expect(sent).toEqual([expect.objectContaining({ kind: 'im', from: bob, to: alice, text })]);
      expect(reports.map((r) => r.outcome)).toEqual([outcome]);
    });
  }

  it('a plugin that hangs: its signal aborts at the timeout and the asker is told', async () => {
    let signal: AbortSignal | undefined;
    const hang = plugin({
      handle: (_r, ctx) => {
        signal = ctx.signal;
        return new Promise(() => {});
      },
    });
    const { h, texts, reports } = await host([hang], { enabledFor: { echo: ['*'] }, timeout: 50 });
    await h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
    expect(texts()).toEqual(['/echo could not answer in time.']);
    expect(signal?.aborted).toBe(true);
    expect(isCrossTalkError(signal?.reason, 'ERR_PLUGIN_TIMEOUT')).toBe(true);
    expect(reports[0]).toMatchObject({ outcome: 'timeout', error: 'ERR_PLUGIN_TIMEOUT' });
  });

  it('a plugin that answers nothing sends nothing', async () => {
    const { h, sent, reports } = await host([plugin({ handle: async () => undefined })]);
    await h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
    expect(sent).toEqual([]);
    expect(reports[0]?.outcome).toBe('silent');
  });

  it('an answer to someone who left is reported undeliverable, not thrown', async () => {
    const { h, reports } = await host([echo]);
    await h.answer(() => ({ address: bob }), im(parseAddress('offline@aol'), bob, '/echo'));
    expect(reports[0]).toMatchObject({ outcome: 'undeliverable', error: 'offline' });
  });

  it('ctx.send reaches the asker only, a few times, and only while the request lasts', async () => {
    let later: (() => Promise<void>) | undefined;
    const chatty = plugin({
      handle: async (r, ctx) => {
        await ctx.send({ kind: 'typing', from: r.user.address, to: r.from, state: 'composing' });
        await ctx.send({ kind: 'im', id: 'x', from: carol, to: r.from, text: 'first', sentAt: 0 });
        later = () =>
          ctx.send({ kind: 'im', id: 'y', from: r.user.address, to: r.from, text: 'late', sentAt: 0 });
        await ctx.send({
          kind: 'im',
          id: 'z',
          from: r.user.address,
          to: carol,
          text: 'elsewhere',
          sentAt: 0,
        });
        return { text: 'never' };
      },
    });
    const { h, sent, texts } = await host([chatty]);
    await h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
    // The sender is stamped: "from carol" left as bob. Sending elsewhere failed the plugin.
    expect(texts()).toEqual(['typing', 'first', '/echo could not answer (its answer could not be sent).']);
    expect(sent.every((e) => e.kind !== 'roster' && e.from === bob)).toBe(true);
    const error = await later?.().catch((e: unknown) => e);
    expect(isCrossTalkError(error, 'ERR_INVALID_PLUGIN_REPLY')).toBe(true);
  });

  it('each user store is capped', async () => {
    const results: string[] = [];
    const hoarder = plugin({
      handle: async (_r, ctx) => {
        for (const [key, value] of [
          ['', 'v'],
          ['k'.repeat(65), 'v'],
          ['big', 'v'.repeat(1025)],
        ] as const)
          results.push(
            await ctx.store.set(key, value).then(
              () => 'ok',
              (e: { code: string }) => e.code,
            ),
          );
        for (let i = 0; i < 33; i++)
          results.push(
            await ctx.store.set(`k${i}`, 'v').then(
              () => 'ok',
              (e: { code: string }) => e.code,
            ),
          );
        results.push(
          await ctx.store.set('k0', 'replaced').then(
            () => 'ok',
            (e: { code: string }) => e.code,
          ),
        );
        return { text: (await ctx.store.get('k0')) ?? 'none' };
      },
    });
    const { h, texts, store } = await host([hoarder]);
    await h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
    expect(results).toEqual([
      'ERR_PLUGIN_STORE_FULL',
      'ERR_PLUGIN_STORE_FULL',
      'ERR_PLUGIN_STORE_FULL',
      ...Array(32).fill('ok'),
      'ERR_PLUGIN_STORE_FULL',
      'ok',
    ]);
    expect(texts()).toEqual(['replaced']);
    expect(Object.keys(store.state.plugins?.stores.echo?.['bob@yahoo'] ?? {})).toHaveLength(32);
  });

  it('close() aborts plugins that run and sends nothing more', async () => {
    let signal: AbortSignal | undefined;
    const { h, sent } = await host([
      plugin({
        handle: (_r, ctx) => {
          signal = ctx.signal;
          return new Promise(() => {});
        },
      }),
    ]);
    const running = h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
    while (!signal) await new Promise((r) => setTimeout(r, 1));
    h.close();
    await running;
    expect(signal.aborted).toBe(true);
    expect(sent).toEqual([]);
    await h.answer(() => ({ address: bob }), im(alice, bob, '/echo'));
    expect(sent).toEqual([]);
  });

  it('refuses what is not a plugin, two plugins of one name, and enabledFor naming none', () => {
    const make =
      (plugins: unknown[], settings: PluginSettings = {}) =>
      () =>
        new PluginHost({
          plugins: plugins as Plugin[],
          settings,
          state: { read: () => undefined, update: async () => {} },
          send: async () => {},
          deliver: () => true,
          report: () => {},
          log: pino({ enabled: false }),
          now: Date.now,
          newId: () => 'x',
        });
    for (const bad of [
      make([{ name: 'echo', handle() {} }]),
      make([echo, echo]),
      make([echo], { enabledFor: { nope: ['*'] } }),
    ]) {
      let error: unknown;
      try {
        bad();
      } catch (e) {
        error = e;
      }
      expect(isCrossTalkError(error, 'ERR_INVALID_PLUGIN')).toBe(true);
    }
    expect(() =>
      definePlugin({ name: 'x', commands: ['/plugins'], description: '', handle: async () => undefined }),
    ).toThrow(/gateway's own command/);
  });
});

describe('rate limits', () => {
  it('per sender: the first refusal is said once, later ones dropped, and the bucket refills', async () => {
    let now = 0;
    const { h, texts, reports } = await host(
      [echo],
      { enabledFor: { echo: ['*'] }, rateLimit: { requests: 2, perMs: 60_000 } },
      { now: () => now },
    );
    for (let i = 0; i < 5; i++) await h.answer(() => ({ address: bob }), im(alice, bob, `/echo ${i}`));
    expect(texts()).toEqual([
      'bob heard 0',
      'bob heard 1',
      'Too many requests: try /echo again in a minute.',
    ]);
    expect(reports.map((r) => r.outcome)).toEqual([
      'answered',
      'answered',
      'rate-limited',
      'rate-limited',
      'rate-limited',
    ]);
    // Another sender is not held back by alice's flood.
    await h.answer(() => ({ address: bob }), im(carol, bob, '/echo carol'));
    expect(texts().at(-1)).toBe('bob heard carol');
    now += 30_000; // half the window: one request's worth
    await h.answer(() => ({ address: bob }), im(alice, bob, '/echo later'));
    expect(texts().at(-1)).toBe('bob heard later');
  });
});

describe('the system address', () => {
  const location = definePlugin({
    name: 'location',
    commands: ['/location', '/where'],
    description: 'Where you are.',
    handle: async (r) => ({ text: `${r.origin} ${r.from.user} asked ${r.command} ${r.args}`.trim() }),
  });
  const system = async (h: PluginHost, text: string) =>
    h.system({ address: bob }, im(bob, SYSTEM_ADDRESS, text));

  it('/help, /plugins, /plugins on|off, unknown commands and plain text, each answered from crosstalk@crosstalk', async () => {
    const { h, delivered } = await host([location, echo], {});
    await system(h, '/help');
    await system(h, '/plugins');
    await system(h, '/plugins on location');
    await system(h, '/plugins off /echo');
    await system(h, '/plugins on nothing');
    await system(h, '/plugins sideways');
    await system(h, '/plugins list');
    await system(h, '/frobnicate');
    await system(h, 'hello?');
    expect(delivered.every((e) => e.from === SYSTEM_ADDRESS && e.to === bob)).toBe(true);
    expect(delivered.map((e) => e.text)).toEqual([
      [
        'CrossTalk gateway commands (send them to this address):',
        '/plugins: the plugins here, and which you have on',
        '/plugins on NAME, /plugins off NAME: let buddies use a plugin, or stop them',
        '/help: this list',
        'A buddy on any network sends you a command; send it here to try it or change its settings:',
        '/location, /where (location, off): Where you are.',
        '/echo (echo, off): says it back',
      ].join('\n'),
      [
        'Plugins on this gateway:',
        'location (/location, /where): off. Where you are.',
        'echo (/echo): off. says it back',
        'Send /plugins on NAME or /plugins off NAME.',
      ].join('\n'),
      'location is on: buddies who send you /location or /where get an answer.',
      'echo is off: buddies who send you /echo get no answer.',
      'No plugin is named nothing. Send /plugins for the list.',
      'Send /plugins, /plugins on NAME or /plugins off NAME.',
      [
        'Plugins on this gateway:',
        'location (/location, /where): on. Where you are.',
        'echo (/echo): off. says it back',
        'Send /plugins on NAME or /plugins off NAME.',
      ].join('\n'),
      'Unknown command /frobnicate. Send /help for the list.',
      'This is your CrossTalk gateway. Send /help for what it understands.',
    ]);
    expect(h.isEnabled(bob, 'location')).toBe(true);
  });

  it("a plugin's command sent there reaches the plugin as its owner, on or off", async () => {
    const { h, delivered, reports } = await host([location], {});
    await system(h, '/where set Paris');
    expect(delivered.map((e) => e.text)).toEqual(['owner bob asked /where set Paris']);
    expect(reports[0]).toMatchObject({ origin: 'owner', from: bob, user: bob, outcome: 'answered' });
  });

  it('commands to the system address are rate-limited per user too', async () => {
    const { h, delivered } = await host([], {}, { now: () => 0 });
    for (let i = 0; i < 12; i++) await system(h, '/help');
    expect(delivered.map((e) => e.text.split('\n')[0])).toEqual([
      ...Array(10).fill('CrossTalk gateway commands (send them to this address):'),
      'Too many requests: try /help again in a minute.',
    ]);
  });
});

describe('the state file', () => {
  it('loads a file from before plugins existed, and quarantines a plugin section it cannot read', async () => {
    const dir = await testDir('plugins');
    const path = join(dir, 'state.json');
    await writeFile(path, JSON.stringify({ version: 1, users: {}, pending: [], delivered: [] }));
    expect((await StateStore.open(path)).state.plugins).toBeUndefined();
    await writeFile(
      path,
      JSON.stringify({ version: 1, users: {}, pending: [], delivered: [], plugins: { enabled: 'yes' } }),
    );
    const store = await StateStore.open(path);
    expect(store.state.plugins).toBeUndefined();
    expect(store.quarantined.map((q) => q.what)).toEqual(['plugin-state']);
    const lines = (await readFile(`${path}.quarantine.jsonl`, 'utf8')).trim().split('\n');
    expect(JSON.parse(lines[0]!).entry).toEqual({ enabled: 'yes' });
    expect(JSON.parse(await readFile(path, 'utf8')).plugins).toBeUndefined();
  });
});
