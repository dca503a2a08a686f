import { EventEmitter } from 'node:events';
import { type Socket, connect as tcpConnect } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  createFrameCodec,
  escapeAttr,
  getAttr,
  localName,
  StanzaFramer,
  type XmlElement,
} from '@crosstalk/codec-xmpp';
import { isCrossTalkError } from '@crosstalk/core';
import {
  BaseConnectionLostError,
  BaseTlsFailedError,
  BaseTlsUnavailableError,
  BaseUnreachableError,
} from '../errors/base-errors.js';

/**
 * The connection under @xmpp/client: TLS before anything else, with TLS options of our own, and a
 * bounded framer between the network and the XML parser.
 *
 * @xmpp/client 0.14 upgrades a stream with `tls.connect({ socket, host })` and takes no TLS options,
 * so it can neither trust a given CA nor refuse to go on in plain text when the server offers no
 * STARTTLS. This socket negotiates STARTTLS itself (RFC 6120 §5.4: stream header, features with
 * `<starttls/>`, `<starttls/>`, `<proceed/>`) and only then says it is connected: @xmpp/client
 * opens its stream over TLS as the restart after STARTTLS (§5.4.3.3) and never sees a plain byte.
 * A server without STARTTLS, one that refuses it, or a certificate that does not verify ends the
 * connection before a credential is sent. Direct TLS (XEP-0368) skips the negotiation.
 *
 * Everything the server sends after TLS goes through codec-xmpp's `StanzaFramer` first, so that a
 * stanza over `maxStanzaSize` ends the connection (`FrameTooLargeError`) before it is buffered
 * whole; @xmpp/client's parser only ever gets whole frames within the limit.
 */

/** TLS settings of the XMPP base client. */
export interface XmppTlsOptions {
  /**
   * `starttls` (default): plain TCP, then STARTTLS, required (RFC 6120 §5.4). `direct`: TLS from
   * the first byte (XEP-0368, usually port 5223).
   */
  mode?: 'starttls' | 'direct';
  /** Certificate authorities to trust instead of Node's default list (PEM): a server's self-signed certificate. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** The name the server's certificate must carry. Default: the XMPP domain. */
  servername?: string;
  /** The oldest TLS version accepted. Default `TLSv1.2`. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** What the socket needs besides the host and port @xmpp/client gives it. */
export interface TlsSocketConfig {
  /** The XMPP domain (the stream's `to`, and the certificate's name by default). */
  domain: string;
  tls: XmppTlsOptions;
  /** Largest frame (stanza) read from the server, bytes. */
  maxStanzaSize: number;
  /** Told when TLS is up, with the negotiated protocol (for logs and tests). */
  onSecured?(socket: TLSSocket): void;
}

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
/** Caps what a server may send before TLS (header, features, proceed): far more than any needs. */
const MAX_PLAIN_BYTES = 64 * 1024;
const decoder = new TextDecoder();

/** The constructor @xmpp/client's TCP transport instantiates (`new this.Socket()`). */
export type TlsSocketClass = new () => TlsFirstSocket;

/** Makes the socket class for one configuration (@xmpp/client constructs sockets without arguments). */
export function tlsSocketClass(config: TlsSocketConfig): TlsSocketClass {
  return class extends TlsFirstSocket {
    constructor() {
      super(config);
    }
  };
}

/**
 * A socket as @xmpp/client's connection uses it (`connect`, `write`, `end`; `connect`, `data`,
 * `close` and `error` events; `secure`), that is TLS before it says `connect`.
 */
export class TlsFirstSocket extends EventEmitter {
  /** Read by @xmpp/client (`isSecure()`): everything it writes goes over TLS. */
  readonly secure = true;
  readonly #config: TlsSocketConfig;
  #raw: Socket | undefined;
  #tls: TLSSocket | undefined;
  #framer: StanzaFramer | undefined;
  #connected = false;
  #failed = false;
  #closed = false;

  constructor(config: TlsSocketConfig) {
    super();
    this.#config = config;
  }

  /** The TLS socket once the handshake is done (tests check the protocol and the peer certificate). */
  get tlsSocket(): TLSSocket | undefined {
    return this.#tls;
  }

  /** Called by @xmpp/client with the service's host and port. */
  connect(params: { host: string; port: number | null }): void {
    const host = params.host;
    const port = params.port ?? (this.#config.tls.mode === 'direct' ? 5223 : 5222);
    const target = `${host}:${port}`;
    if (this.#config.tls.mode === 'direct') {
      this.#secure(undefined, host, port, target);
      return;
    }
    const raw = tcpConnect({ host, port });
    this.#raw = raw;
    raw.setNoDelay(true);
    raw.once('error', (error) => this.#fail(new BaseUnreachableError(target, { cause: error })));
    raw.once('close', () => this.#onClose(false));
    raw.once('connect', () => {
      raw.removeAllListeners('error');
      raw.on('error', (error) =>
        this.#fail(
          new BaseConnectionLostError(`the connection to ${target} failed before TLS: ${error.message}`, {
            cause: error,
          }),
        ),
      );
      this.#negotiate(raw, host, port, target);
    });
  }

  /** Writes what @xmpp/client sends (only ever after TLS is up). */
  write(data: string | Uint8Array, callback?: (error?: Error | null) => void): void {
    if (!this.#tls || this.#tls.destroyed) {
      callback?.(new BaseConnectionLostError('the XMPP connection is closed'));
      return;
    }
    this.#tls.write(data, callback);
  }

  /** Closes the connection after what was written. */
  end(): void {
    if (this.#tls) this.#tls.end();
    else this.#raw?.end();
  }

  /** Closes it at once (the adapter's last resort on close). */
  destroy(): void {
    this.#tls?.destroy();
    this.#raw?.destroy();
  }

  /** RFC 6120 §5.4.2: our header, the server's features, `<starttls/>`, `<proceed/>`; then TLS. */
  #negotiate(raw: Socket, host: string, port: number, target: string): void {
    const framer = new StanzaFramer({ maxFrameSize: MAX_PLAIN_BYTES, maxBuffered: MAX_PLAIN_BYTES });
    const codec = createFrameCodec();
    let received = 0;
    let asked = false;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      try {
        if (received > MAX_PLAIN_BYTES)
          throw new BaseTlsUnavailableError(`the server sent over ${MAX_PLAIN_BYTES} bytes before TLS`);
        const frames = framer.push(chunk);
        for (const [i, frame] of frames.entries()) {
          const parsed = codec.decodeText(decoder.decode(frame));
          if (parsed.type !== 'element') continue; // the XML declaration, the header, whitespace
          const el = parsed.element;
          if (localName(el.name) === 'features') {
            if (!el.children.some((c) => c.type === 'element' && isTls(c, 'starttls')))
              throw new BaseTlsUnavailableError(
                `the XMPP server at ${target} does not offer STARTTLS: not logging in without TLS`,
              );
            raw.write(`<starttls xmlns='${NS_TLS}'/>`);
            asked = true;
            continue;
          }
          if (isTls(el, 'proceed') && asked) {
            // Bytes after <proceed/> in the same read would be plain text posing as the TLS
            // stream (the STARTTLS command injection RFC 7590 §3.1 warns of): refuse them.
            if (i < frames.length - 1 || framer.buffered > 0)
              throw new BaseTlsUnavailableError(`the server at ${target} sent plain bytes after <proceed/>`);
            raw.off('data', onData);
            this.#secure(raw, host, port, target);
            return;
          }
          if (isTls(el, 'failure'))
            throw new BaseTlsUnavailableError(`the XMPP server at ${target} refused STARTTLS`);
          if (localName(el.name) === 'error')
            throw new BaseTlsUnavailableError(
              `the XMPP server at ${target} closed the stream before TLS (${streamError(el)})`,
            );
          throw new BaseTlsUnavailableError(`unexpected <${el.name}> from ${target} before TLS`);
        }
      } catch (error) {
        raw.off('data', onData);
        this.#fail(
          isCrossTalkError(error, 'ERR_BASE_TLS_UNAVAILABLE')
            ? error
            : new BaseTlsUnavailableError(
                `the STARTTLS negotiation with ${target} failed: ${describe(error)}`,
                {
                  cause: error,
                },
              ),
        );
      }
    };
    raw.on('data', onData);
    raw.write(
      `<?xml version='1.0'?><stream:stream to='${escapeAttr(this.#config.domain)}' version='1.0' ` +
        "xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
    );
  }

  /** The TLS handshake, on the negotiated socket or (direct TLS) a new connection; verified or refused. */
  #secure(raw: Socket | undefined, host: string, port: number, target: string): void {
    const tls = this.#config.tls;
    const options: ConnectionOptions = {
      servername: tls.servername ?? this.#config.domain,
      minVersion: tls.minVersion ?? 'TLSv1.2',
      rejectUnauthorized: true,
      ...(tls.ca === undefined ? {} : { ca: tls.ca as string | Buffer | (string | Buffer)[] }),
      ...(raw ? { socket: raw } : { host, port }),
    };
    const secured = tlsConnect(options);
    this.#tls = secured;
    secured.once('error', (error) =>
      this.#fail(
        !raw && isConnectFailure(error)
          ? new BaseUnreachableError(target, { cause: error })
          : new BaseTlsFailedError(`TLS with the XMPP server at ${target} failed: ${error.message}`, {
              cause: error,
            }),
      ),
    );
    secured.once('secureConnect', () => {
      secured.removeAllListeners('error');
      secured.on('error', (error) =>
        this.#fail(
          new BaseConnectionLostError(`the XMPP connection failed: ${error.message}`, { cause: error }),
        ),
      );
      secured.on('close', () => this.#onClose(false));
      this.#framer = new StanzaFramer({ maxFrameSize: this.#config.maxStanzaSize });
      secured.on('data', (chunk: Buffer) => this.#read(chunk));
      this.#config.onSecured?.(secured);
      this.#connected = true;
      this.emit('connect');
    });
  }

  /** Server bytes after TLS: whole frames within the limit go on to @xmpp/client's parser. */
  #read(chunk: Buffer): void {
    if (this.#failed) return;
    const framer = this.#framer!;
    let frames: Uint8Array[];
    try {
      frames = [...framer.push(chunk), ...framer.flush()];
    } catch (error) {
      this.#fail(
        new BaseConnectionLostError(`the XMPP server sent what its limits refuse: ${describe(error)}`, {
          cause: error,
        }),
      );
      return;
    }
    for (const frame of frames) this.emit('data', Buffer.from(frame.buffer, frame.byteOffset, frame.length));
    // A framer that failed after good frames returned those first; the failure stands.
    if (framer.error)
      this.#fail(
        new BaseConnectionLostError(`the XMPP server sent what its limits refuse: ${framer.error.message}`, {
          cause: framer.error,
        }),
      );
  }

  #fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.emit('error', error);
    this.destroy();
    // A socket destroyed before it connected may not say close; @xmpp/client waits for it.
    if (!this.#connected) this.#onClose(true);
  }

  #onClose(hadError: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close', hadError || this.#failed);
  }
}

function isTls(el: XmlElement, name: string): boolean {
  return localName(el.name) === name && getAttr(el, 'xmlns') === NS_TLS;
}

/** The condition of a `<stream:error>` (RFC 6120 §4.9.3), for the message. */
function streamError(el: XmlElement): string {
  const condition = el.children.find((c): c is XmlElement => c.type === 'element');
  return condition ? localName(condition.name) : 'no condition';
}

function isConnectFailure(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
