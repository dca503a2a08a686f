import { connect, type Socket } from 'node:net';
import { utf8, WaitingInbox } from '@crosstalk/core';
import { StanzaFramer } from '../framer/stanza-framer.js';
import { createFrameCodec } from '../frames/frame.js';
import { CLIENT_SCOPE, findChild, NS, scopeIn } from '../stanza/namespaces.js';
import { element, getAttr, localName, textOf, type XmlElement } from '../xml/node.js';
import { writeElement } from '../xml/serialize.js';

/** Options of `ScriptedXmppClient`. */
export interface ScriptedClientOptions {
  host: string;
  port: number;
  /** The server's domain (the stream header's `to`). */
  domain: string;
  user: string;
  password: string;
  resource?: string;
  /** Default timeout for every wait (default 10 s). */
  timeoutMs?: number;
  /**
   * Opens the TCP connection to `host:port` (default: a direct `net.connect`). Pass a SOCKS dialer
   * (the gateway's `socksConnect(proxy, host, port)`) to behave as a real client configured with a
   * SOCKS4 proxy: an XMPP login uses this one connection only.
   */
  dial?: (host: string, port: number) => Promise<Socket>;
}

/** The default `dial`: a plain TCP connection. */
export function directDial(host: string, port: number): Promise<Socket> {
  const socket = connect(port, host);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** A roster item as the server sent it (RFC 6121 §2.1.2). */
export interface ScriptedRosterItem {
  jid: string;
  name?: string;
  subscription: string;
  ask?: string;
  groups: string[];
}

/**
 * A scripted XMPP client for end-to-end and load tests, built on this package's own framer and
 * frame codec over a plain `net.Socket`: it logs in with SASL PLAIN (RFC 6120 §6, RFC 4616),
 * binds a resource, and then sends and awaits stanzas. No TLS, by design (see the README).
 */
export class ScriptedXmppClient {
  readonly options: ScriptedClientOptions;
  // Core's WaitingInbox keeping every element (`after` counts from the first one); unref'd timers,
  // so an abandoned wait holds no process.
  readonly #received: WaitingInbox<XmlElement>;
  #socket: Socket;
  #framer = new StanzaFramer();
  #frames = createFrameCodec();
  #listeners = new Set<(el: XmlElement) => void>();
  #streams = 0;
  #streamWaiters: (() => void)[] = [];
  #failure: Error | undefined;
  #nextId = 0;
  #jid: string | undefined;
  #closed: Promise<void>;
  #streamEnded: (() => void) | undefined;

  private constructor(options: ScriptedClientOptions, socket: Socket) {
    this.options = options;
    this.#received = new WaitingInbox({
      capacity: Number.POSITIVE_INFINITY,
      name: this.bareJid,
      unrefTimers: true,
    });
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (error) => this.#fail(error));
    socket.once('close', () => this.#fail(new Error('the server closed the connection')));
  }

  /** Opens the TCP connection and the stream, without logging in. */
  static async connect(options: ScriptedClientOptions): Promise<ScriptedXmppClient> {
    const socket = await (options.dial ?? directDial)(options.host, options.port);
    const client = new ScriptedXmppClient(options, socket);
    await client.#openStream();
    return client;
  }

  /** Connects, logs in with PLAIN, restarts the stream and binds a resource. */
  static async login(options: ScriptedClientOptions): Promise<ScriptedXmppClient> {
    const client = await ScriptedXmppClient.connect(options);
    try {
      await client.authenticate();
    } catch (error) {
      client.destroy();
      throw error;
    }
    return client;
  }

  /** The full JID the server bound, once logged in. */
  get jid(): string | undefined {
    return this.#jid;
  }

  get bareJid(): string {
    return `${this.options.user}@${this.options.domain}`;
  }

  async authenticate(): Promise<string> {
    const o = this.options;
    await this.waitFor((el) => localName(el.name) === 'features');
    const plain = btoa(String.fromCharCode(...utf8(`\u0000${o.user}\u0000${o.password}`)));
    this.send(element('auth', { xmlns: NS.sasl, mechanism: 'PLAIN' }, [plain]));
    const answer = await this.waitFor((el) => ['success', 'failure'].includes(localName(el.name)));
    if (localName(answer.name) === 'failure') throw new Error(`SASL failed: ${writeElement(answer)}`);
    // RFC 6120 §6.4.6: after <success/> the client opens a new stream.
    const before = this.received.length;
    await this.#openStream();
    const features = await this.waitFor((el) => localName(el.name) === 'features', { after: before });
    const bound = await this.iq(
      element('iq', { type: 'set' }, [
        element('bind', { xmlns: NS.bind }, o.resource ? [element('resource', {}, [o.resource])] : []),
      ]),
    );
    const bind = findChild(bound, scopeIn(bound, CLIENT_SCOPE), 'bind', NS.bind);
    const jid = bind ? findChild(bind.el, bind.scope, 'jid', NS.bind) : undefined;
    if (!jid) throw new Error(`resource binding failed: ${writeElement(bound)}`);
    this.#jid = textOf(jid.el);
    // RFC 3921 sessions: only when the server still requires one.
    const session = findChild(
      features,
      scopeIn(features, CLIENT_SCOPE),
      'session',
      'urn:ietf:params:xml:ns:xmpp-session',
    );
    if (
      session &&
      !session.el.children.some((c) => c.type === 'element' && localName(c.name) === 'optional')
    ) {
      await this.iq(
        element('iq', { type: 'set' }, [
          element('session', { xmlns: 'urn:ietf:params:xml:ns:xmpp-session' }),
        ]),
      );
    }
    return this.#jid;
  }

  send(stanza: XmlElement | string): void {
    this.#socket.write(typeof stanza === 'string' ? stanza : writeElement(stanza));
  }

  newId(): string {
    return `sc${++this.#nextId}`;
  }

  /** Sends a chat message; returns its id. */
  sendMessage(to: string, body: string, options: { type?: string; id?: string; html?: string } = {}): string {
    const id = options.id ?? this.newId();
    const msg = element('message', { to, type: options.type ?? 'chat', id }, [element('body', {}, [body])]);
    if (options.html !== undefined) {
      const wrapper = this.#frames.decodeText(`<body xmlns='${NS.xhtml}'>${options.html}</body>`);
      if (wrapper.type === 'element')
        msg.children.push(element('html', { xmlns: NS.xhtmlIm }, [wrapper.element]));
    }
    this.send(msg);
    return id;
  }

  sendChatState(to: string, state: 'active' | 'composing' | 'paused' | 'inactive' | 'gone'): void {
    this.send(element('message', { to, type: 'chat' }, [element(state, { xmlns: NS.chatstates })]));
  }

  sendPresence(options: { to?: string; type?: string; show?: string; status?: string } = {}): void {
    this.send(
      element('presence', { to: options.to, type: options.type }, [
        options.show === undefined ? undefined : element('show', {}, [options.show]),
        options.status === undefined ? undefined : element('status', {}, [options.status]),
      ]),
    );
  }

  /** RFC 6121 §3.1.1: asks `to` for a presence subscription. */
  subscribe(to: string, message?: string): void {
    this.sendPresence({ to, type: 'subscribe', ...(message === undefined ? {} : { status: message }) });
  }

  /** RFC 6121 §3.1.5 / §3.2.1: approves or refuses a subscription request. */
  answer(to: string, accept: boolean): void {
    this.sendPresence({ to, type: accept ? 'subscribed' : 'unsubscribed' });
  }

  /** Sends an iq (an id is added when missing) and resolves with its result or error. */
  async iq(stanza: XmlElement, timeoutMs?: number): Promise<XmlElement> {
    let id = getAttr(stanza, 'id');
    if (id === undefined) {
      id = this.newId();
      stanza.attrs.push({ name: 'id', value: id });
    }
    const answer = this.waitFor(
      (el) =>
        localName(el.name) === 'iq' &&
        getAttr(el, 'id') === id &&
        ['result', 'error'].includes(getAttr(el, 'type') ?? ''),
      { after: this.received.length, timeoutMs },
    );
    this.send(stanza);
    return answer;
  }

  /** RFC 6121 §2.1.3: the roster. */
  async getRoster(): Promise<ScriptedRosterItem[]> {
    const result = await this.iq(element('iq', { type: 'get' }, [element('query', { xmlns: NS.roster })]));
    const query = findChild(result, scopeIn(result, CLIENT_SCOPE), 'query', NS.roster);
    if (!query) return [];
    return query.el.children
      .filter((c): c is XmlElement => c.type === 'element' && localName(c.name) === 'item')
      .map((item) => ({
        jid: getAttr(item, 'jid') ?? '',
        ...(getAttr(item, 'name') !== undefined ? { name: getAttr(item, 'name')! } : {}),
        subscription: getAttr(item, 'subscription') ?? 'none',
        ...(getAttr(item, 'ask') !== undefined ? { ask: getAttr(item, 'ask')! } : {}),
        groups: item.children
          .filter((g): g is XmlElement => g.type === 'element' && localName(g.name) === 'group')
          .map(textOf),
      }));
  }

  /**
   * Calls `listener` with every element received from now on (after it is added to `received`);
   * returns a function that removes the listener.
   */
  onStanza(listener: (el: XmlElement) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every element the server sent, in order (a live view). */
  get received(): XmlElement[] {
    return this.#received.items as XmlElement[];
  }

  /**
   * Resolves with the first element received (after index `after`, default 0: past ones count)
   * that matches; rejects after the timeout (a `WaitTimeoutError` from `@crosstalk/core`) or when
   * the connection fails.
   */
  waitFor(
    match: (el: XmlElement) => boolean,
    options: { after?: number; timeoutMs?: number | undefined } = {},
  ): Promise<XmlElement> {
    const after = options.after ?? 0;
    const earlier = new Set(after < this.received.length ? this.received.slice(0, after) : []);
    return this.#received.waitFor((el) => !earlier.has(el) && match(el), {
      onlyNew: after >= this.received.length && after > 0,
      timeoutMs: options.timeoutMs ?? this.options.timeoutMs ?? 10_000,
      what: 'matching stanza',
    });
  }

  /**
   * Ends the stream as RFC 6120 §4.4 says: sends the closing tag, waits (up to 2 s) for the
   * server's closing tag, and only then closes the TCP connection; resolves once it is closed.
   */
  async close(): Promise<void> {
    if (!this.#socket.destroyed) {
      if (!this.#socket.writableEnded) {
        const answered = new Promise<void>((resolve) => {
          this.#streamEnded = resolve;
          setTimeout(resolve, 2000).unref?.();
        });
        this.#socket.write('</stream:stream>');
        await Promise.race([answered, this.#closed]);
        this.#socket.end();
      }
      const timer = setTimeout(() => this.#socket.destroy(), 2000);
      timer.unref?.();
    }
    await this.#closed;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  async #openStream(): Promise<void> {
    const target = this.#streams + 1;
    const opened = new Promise<void>((resolve, reject) => {
      if (this.#failure) reject(this.#failure);
      this.#streamWaiters.push(() => (this.#streams >= target ? resolve() : undefined));
    });
    this.send(
      `<?xml version='1.0'?><stream:stream to='${this.options.domain}' xmlns='jabber:client' xmlns:stream='${NS.streams}' version='1.0'>`,
    );
    await opened;
  }

  #onData(chunk: Buffer): void {
    let frames: Uint8Array[];
    try {
      frames = this.#framer.push(chunk);
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    for (const raw of frames) {
      const frame = this.#frames.decode(raw, 'server');
      if (frame.type === 'stream-open') {
        this.#streams++;
        for (const w of this.#streamWaiters.splice(0)) w();
        continue;
      }
      if (frame.type === 'stream-close') this.#streamEnded?.();
      if (frame.type !== 'element') continue;
      this.#received.push(frame.element);
      for (const l of [...this.#listeners]) l(frame.element);
    }
    if (this.#framer.error) this.#fail(this.#framer.error);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#received.close(this.#failure);
  }
}
