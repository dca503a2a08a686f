import { parseJid } from '@crosstalk/codec-xmpp';
import {
  type Address,
  addressKey,
  type CanonicalEvent,
  isCrossTalkError,
  knownNetworks,
  type PresenceEvent,
} from '@crosstalk/core';
import type {
  CrossTalkNode,
  PresenceUpdate,
  SendOutcome,
  UserEndpoint,
  UserSession,
} from '@crosstalk/gateway';
import { component, type Element, type IncomingContext, xml } from '@xmpp/component';
import { foreignJid } from '../addresses/foreign-jid.js';
import {
  ComponentAuthError,
  ComponentConnectError,
  NoSuchServiceError,
  type StanzaErrorCondition,
  stanzaErrorFor,
  UntranslatableStanzaError,
  UserBacklogError,
} from '../errors/errors.js';
import {
  checkRecipient,
  checkSender,
  defaultNetworks,
  type Sender,
  type StanzaPolicy,
} from '../policy/policy.js';
import { type StanzaLimits, StanzaTranslator } from '../stanzas/stanzas.js';

/** Options of `startXmppComponent`. */
export interface XmppComponentOptions {
  /** The CrossTalk node the component's users are attached to (`createNode` from @crosstalk/gateway). */
  node: CrossTalkNode;
  /** Where the XMPP server takes components (prosody's `component_ports`): `xmpp://127.0.0.1:5347`. */
  service: string;
  /** The component's domain, as the server's `Component "crosstalk.localhost"` names it. */
  domain: string;
  /** The shared secret (prosody's `component_secret`; XEP-0114 §3 handshake). */
  secret: string;
  /** The server's user domains whose users may use the component (`['localhost']`); nobody else may. */
  userDomains: readonly string[];
  /** Foreign networks reachable (default: core's known networks, and `crosstalk` for the node's `/plugins`). */
  networks?: readonly string[];
  /** Caps on one stanza (default: codec-xmpp's). */
  limits?: StanzaLimits;
  /** Stanzas of one user waiting to be handled at once; past it, `resource-constraint` (default 256). */
  maxQueuedPerUser?: number;
  /** Foreign users whose last presence is remembered for probes (default 10,000; the oldest go first). */
  maxRememberedPresences?: number;
  /** How long `startXmppComponent` waits for the server to accept the component (default 10 s). */
  startTimeoutMs?: number;
}

/** What the component reports to `on` listeners. */
export type ComponentEvent =
  /** A local user is now online at the CrossTalk node (their first stanza to the component). */
  | { type: 'attached'; user: Address }
  /** A local user left the node (their last resource went unavailable, or the node closed). */
  | { type: 'detached'; user: Address; reason: string }
  /** An event a local user sent went into the CrossTalk network. */
  | { type: 'sent'; event: CanonicalEvent; outcome: SendOutcome }
  /** An event from the CrossTalk network was written to the XMPP server for a local user. */
  | { type: 'delivered'; event: CanonicalEvent }
  /** A stanza was refused: its sender got `reply` as an XMPP stanza error. */
  | {
      type: 'refused';
      stanza: string;
      from: string | undefined;
      to: string | undefined;
      error: unknown;
      reply: StanzaErrorCondition;
    }
  /** The component stream failed (it reconnects by itself), or a stanza could not be written. */
  | { type: 'error'; error: unknown };

/** A running component, as `startXmppComponent` returns it. */
export interface XmppComponent {
  /** The component's domain. */
  readonly domain: string;
  /** The JID a foreign user has on the component (`bob%yahoo@crosstalk.localhost`). */
  jidOf(user: Address): string;
  /** Local users attached to the node through the component now. */
  users(): Address[];
  /** Observes the component; returns the unsubscribe function. */
  on(listener: (event: ComponentEvent) => void): () => void;
  /** Detaches every local user, then closes the component stream. The node stays up (it is the caller's). */
  stop(): Promise<void>;
}

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/**
 * Stanzas that always carry a canonical event (a chat message's body, RFC 6121 §5.2.3; a subscription
 * request or answer, §3): when codec-xmpp's reader gives none, what they hold is past core's limits.
 */
function alwaysMeans(stanza: Element): boolean {
  const type = stanza.attrs.type;
  if (stanza.name === 'message')
    return (type ?? 'normal') in { chat: 1, normal: 1 } && !!stanza.getChild('body');
  return (
    stanza.name === 'presence' && (type === 'subscribe' || type === 'subscribed' || type === 'unsubscribed')
  );
}

interface LocalUser {
  readonly key: string;
  readonly address: Address;
  session: UserSession | undefined;
  attaching: Promise<UserSession> | undefined;
  /** Available resources and what each said last, the most recent last ('' for a bare `from`). */
  readonly resources: Map<string, PresenceUpdate>;
  /** The presence last given to the node (JSON), so the server's fan-out is told once. */
  told: string | undefined;
  queue: Promise<unknown>;
  queued: number;
}

/**
 * CrossTalk as an XMPP external component (XEP-0114): the XMPP server's users reach the users of
 * every network CrossTalk serves as `bob%yahoo@<domain>`, with no SOCKS proxy and with TLS between
 * them and their server. The server vouches for its users (README "Who may say what"); each one is
 * attached to `node` from their first stanza to the component until their last resource goes
 * unavailable, and the engine stamps them as the sender of what they send.
 */
export async function startXmppComponent(options: XmppComponentOptions): Promise<XmppComponent> {
  const { node } = options;
  const domain = options.domain.toLowerCase();
  const policy: StanzaPolicy = {
    componentDomain: domain,
    userDomains: options.userDomains.map((d) => d.toLowerCase()),
    networks: (options.networks ?? defaultNetworks(knownNetworks())).map((n) => n.toLowerCase()),
  };
  const translator = new StanzaTranslator(domain, options.limits);
  const maxQueued = options.maxQueuedPerUser ?? 256;
  const maxPresences = options.maxRememberedPresences ?? 10_000;
  const listeners = new Set<(event: ComponentEvent) => void>();
  const emit = (event: ComponentEvent) => {
    for (const l of [...listeners]) {
      try {
        l(event);
      } catch {
        // A listener's failure is its own.
      }
    }
  };
  const users = new Map<string, LocalUser>();
  /** The last presence each foreign user was seen with, for the server's probes (RFC 6121 §4.3). */
  const presences = new Map<string, PresenceEvent>();
  let stopping = false;

  const xmpp = component({ service: options.service, domain, password: options.secret });
  xmpp.on('error', (error) => emit({ type: 'error', error }));

  const send = (el: Element) => {
    xmpp.send(el).catch((error: unknown) => emit({ type: 'error', error }));
  };

  /** RFC 6120 §8.3: an error reply to `stanza`, from the address it was sent to, without its payload. */
  const refuse = (stanza: Element, error: unknown): StanzaErrorCondition => {
    const reply = stanzaErrorFor(error);
    const { from, to, id } = stanza.attrs;
    emit({ type: 'refused', stanza: stanza.name, from, to, error, reply });
    // RFC 6120 §8.3.1: never answer an error with an error; and there is nobody to answer without a `from`.
    if (stanza.attrs.type === 'error' || from === undefined || stanza.name === 'iq') return reply;
    const ours = to !== undefined && parseJid(to)?.domain.toLowerCase() === domain;
    send(
      xml(
        stanza.name,
        { from: ours ? to : domain, to: from, type: 'error', id },
        xml('error', { type: reply.type }, xml(reply.condition, NS_STANZAS)),
      ),
    );
    return reply;
  };

  const remember = (presence: PresenceEvent) => {
    const key = addressKey(presence.from);
    presences.delete(key);
    const { to: _to, ...rest } = presence;
    presences.set(key, rest);
    if (presences.size > maxPresences) presences.delete(presences.keys().next().value!);
  };

  const endpointFor = (user: LocalUser): UserEndpoint => ({
    deliver(event) {
      if (xmpp.status !== 'online') return false;
      const stanzas = translator.write(event);
      if (stanzas.length === 0) return false;
      if (event.kind === 'presence') remember(event);
      for (const el of stanzas) send(el);
      emit({ type: 'delivered', event });
      return true;
    },
    // The server keeps its users' rosters: a roster event means nothing to it.
    affinity: (event) => (event.kind === 'roster' ? 0 : 1),
    detached(reason) {
      if (users.get(user.key) === user) users.delete(user.key);
      user.session = undefined;
      emit({ type: 'detached', user: user.address, reason });
    },
  });

  const attach = async (user: LocalUser): Promise<UserSession> => {
    if (user.session && !user.session.closed) return user.session;
    user.attaching ??= node
      .attach(user.address, endpointFor(user), { protocol: 'xmpp', id: `xmpp-component:${user.key}` })
      .then(
        (session) => {
          user.session = session;
          user.attaching = undefined;
          // Attached is online (node.attach): a plain available presence need not be told again.
          user.told = JSON.stringify({ status: 'online' });
          emit({ type: 'attached', user: user.address });
          return session;
        },
        (error: unknown) => {
          user.attaching = undefined;
          throw error;
        },
      );
    return user.attaching;
  };

  const detach = async (user: LocalUser, reason: string) => {
    const session = user.session;
    if (users.get(user.key) === user) users.delete(user.key);
    user.session = undefined;
    if (!session) return;
    await session.detach();
    emit({ type: 'detached', user: user.address, reason });
  };

  const localUser = (sender: Sender): LocalUser => {
    const key = addressKey(sender.user);
    let user = users.get(key);
    if (!user) {
      user = {
        key,
        address: sender.user,
        session: undefined,
        attaching: undefined,
        resources: new Map(),
        told: undefined,
        queue: Promise.resolve(),
        queued: 0,
      };
      users.set(key, user);
    }
    return user;
  };

  /** One user's stanzas are handled in the order the server sent them, and no more than `maxQueued` wait. */
  const enqueue = <T>(user: LocalUser, work: () => Promise<T>): Promise<T> => {
    if (user.queued >= maxQueued) {
      return Promise.reject(new UserBacklogError(`${user.key} has ${user.queued} stanzas waiting`));
    }
    user.queued++;
    const run = user.queue.then(work).finally(() => user.queued--);
    user.queue = run.catch(() => {});
    return run;
  };

  /** The user's presence from what their resources said last: the most recent one's, or gone. */
  const presenceChanged = async (user: LocalUser) => {
    const latest = [...user.resources.values()].at(-1);
    if (!latest) {
      await detach(user, 'the last resource went unavailable');
      return;
    }
    const told = JSON.stringify(latest);
    const session = await attach(user);
    if (told === user.told) return;
    user.told = told;
    await session.setPresence(latest);
  };

  const sendEvents = async (user: LocalUser, events: CanonicalEvent[]) => {
    if (events.length === 0) return;
    const session = await attach(user);
    for (const event of events) {
      const { from: _from, ...unsigned } = event as CanonicalEvent & { from: Address };
      // The engine stamps the attached user as the sender (who the server vouched for).
      const outcome = await session.send(unsigned as Parameters<UserSession['send']>[0]);
      emit({ type: 'sent', event, outcome });
    }
  };

  /** The server probes a foreign user for a local user (RFC 6121 §4.3): their last known presence. */
  const answerProbe = async (stanza: Element, sender: Sender, buddy: Address) => {
    let presence = presences.get(addressKey(buddy));
    if (!presence) {
      try {
        presence = await node.directory.lookupPresence(buddy);
      } catch {
        presence = undefined; // the directory does not answer: nothing is known
      }
    }
    const shown: PresenceEvent = presence
      ? { ...presence, from: buddy, to: sender.user }
      : { kind: 'presence', from: buddy, to: sender.user, status: 'offline' };
    for (const el of translator.write(shown)) {
      el.attrs.to = stanza.attrs.from; // to the resource that asked
      send(el);
    }
  };

  const handle = async (stanza: Element, sender: Sender, buddy: Address): Promise<Element | undefined> => {
    const type = stanza.attrs.type;
    const user = localUser(sender);
    if (stanza.name === 'presence' && type === 'probe') {
      await answerProbe(stanza, sender, buddy);
      return undefined;
    }
    const tree = translator.parse(stanza);
    const events = translator.read(tree, buddy);
    if (stanza.name === 'presence' && (type === undefined || type === 'unavailable')) {
      // The server fans a user's presence out to each contact on the component (RFC 6121 §4.2.2):
      // it is the user's own presence, told to the node once.
      const presence = events.find((e): e is PresenceEvent => e.kind === 'presence');
      if (!presence) return undefined;
      const resource = sender.resource ?? '';
      user.resources.delete(resource);
      if (presence.status !== 'offline') {
        const { kind: _k, from: _f, to: _t, ...update } = presence;
        user.resources.set(resource, update);
      }
      if (user.session || user.attaching || user.resources.size > 0) await presenceChanged(user);
      else users.delete(user.key); // unavailable from someone who was never here
      return undefined;
    }
    if (stanza.name === 'iq') {
      // Only a call offer (Jingle session-initiate) means something here; the rest is not a service we offer.
      if (events.length === 0)
        throw new NoSuchServiceError(`no ${stanza.name} service at ${stanza.attrs.to}`);
      await sendEvents(user, events);
      return xml('iq', { type: 'result', id: stanza.attrs.id, from: stanza.attrs.to, to: stanza.attrs.from });
    }
    if (events.length === 0 && alwaysMeans(stanza)) {
      throw new UntranslatableStanzaError(`a ${stanza.name} past the canonical model's limits`);
    }
    await sendEvents(user, events);
    return undefined;
  };

  xmpp.middleware.use(async (ctx: IncomingContext, next: () => Promise<unknown>) => {
    const stanza = ctx.stanza;
    if (stanza.name !== 'message' && stanza.name !== 'presence' && stanza.name !== 'iq') return next();
    const type = stanza.attrs.type;
    // Errors are never answered (RFC 6120 §8.3.1), and results answer nothing we wait for.
    if (type === 'error' || (stanza.name === 'iq' && type === 'result')) return undefined;
    try {
      const sender = checkSender(stanza.attrs.from, policy);
      const to = stanza.attrs.to;
      if (to === undefined || to.toLowerCase() === domain) {
        // The component itself: presence to it means nothing; anything else is not offered.
        if (stanza.name === 'presence') return undefined;
        throw new NoSuchServiceError(`the component offers no ${stanza.name} service of its own`);
      }
      const buddy = checkRecipient(to, policy);
      const user = localUser(sender);
      const reply = await enqueue(user, () => handle(stanza, sender, buddy));
      if (reply) await xmpp.send(reply);
      return undefined;
    } catch (error) {
      const condition = refuse(stanza, error);
      // The iq middleware writes the error reply for an iq (with its type, id and addresses).
      return stanza.name === 'iq'
        ? xml('error', { type: condition.type }, xml(condition.condition, NS_STANZAS))
        : undefined;
    }
  });

  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      xmpp.start(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new ComponentConnectError(`no answer from ${options.service} within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    xmpp.reconnect.stop();
    await xmpp.stop().catch(() => {});
    if (isCrossTalkError(error)) throw error;
    const condition = (error as { condition?: string }).condition;
    if (condition === 'not-authorized' || condition === 'host-unknown') {
      throw new ComponentAuthError(`${options.service} refused the component ${domain}: ${condition}`, {
        cause: error,
      });
    }
    throw new ComponentConnectError(`could not open the component stream to ${options.service}`, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }

  return {
    domain,
    jidOf: (user) => foreignJid(user, domain),
    users: () => [...users.values()].filter((u) => u.session && !u.session.closed).map((u) => u.address),
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      for (const user of [...users.values()]) {
        await user.queue;
        await detach(user, 'the component stopped').catch(() => {});
      }
      xmpp.reconnect.stop();
      await xmpp.stop().catch(() => {});
    },
  };
}
