import {
  type Address,
  type ImEvent,
  type Plugin,
  type PluginContext,
  type PluginReply,
  type PluginRequest,
  parseAddress,
  parseCommand,
} from '@crosstalk/core';

/** A plugin's context as a host gives it, with an in-memory store (the gateway's host is tested in its package). */
export function context(store = new Map<string, string>(), signal?: PluginContext['signal']): PluginContext {
  return {
    now: () => Date.parse('2026-01-01T00:10:00Z'),
    send: async () => {},
    signal: signal ?? new AbortController().signal,
    store: {
      get: async (k) => store.get(k),
      set: async (k, v) => {
        if (v === undefined) store.delete(k);
        else store.set(k, v);
      },
    },
  };
}

/** Asks `plugin` as `from` would ask `user` (or as the owner, through the system address). */
export function ask(
  plugin: Plugin,
  text: string,
  options: {
    user?: string;
    from?: string;
    clientAddress?: string;
    origin?: 'buddy' | 'owner';
    ctx?: PluginContext;
  },
): Promise<PluginReply | undefined> {
  const user: Address = parseAddress(options.user ?? 'bob@yahoo');
  const origin = options.origin ?? 'buddy';
  const from = origin === 'owner' ? user : parseAddress(options.from ?? 'alice@aol');
  const message: ImEvent = { kind: 'im', id: 'm1', from, to: user, text, sentAt: 0 };
  const request: PluginRequest = {
    from,
    user: { address: user, ...(options.clientAddress ? { clientAddress: options.clientAddress } : {}) },
    origin,
    ...parseCommand(text)!,
    message,
  };
  return plugin.handle(request, options.ctx ?? context());
}
