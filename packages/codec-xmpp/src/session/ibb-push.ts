import { type CrossTalkError, emptyOutput, type FileOfferEvent, type SessionOutput } from '@crosstalk/core';
import { IbbBlockSizeError, IbbClosedError, IbbProtocolError, IbbRefusedError } from '../errors/errors.js';
import { addressToJid } from '../jid/jid.js';
import { findChild, NS, type NsScope, namespaceOf, scopeIn } from '../stanza/namespaces.js';
import { childElements, element, getAttr, localName, type XmlElement } from '../xml/node.js';
import { writeElement } from '../xml/serialize.js';
import { encodeUtf8 } from '../xml/utf8.js';

/** XEP-0047 §2.1: block-size is at most 65535 bytes. */
export const MAX_IBB_BLOCK = 65_535;
/** The smallest block the gateway halves down to when the client asks for smaller (resource-constraint). */
export const MIN_IBB_BLOCK = 512;
/** Bytestreams one session pushes at once. */
export const MAX_IBB_PUSHES = 8;

type Phase = 'opening' | 'ready' | 'sending' | 'closing';

/** One bytestream the gateway opened to the client, on behalf of the user who offered the file. */
interface Push {
  offerId: string;
  sid: string;
  /** The offering user's JID: the bytestream's initiator as the client sees it. */
  from: string;
  blockSize: number;
  seq: number;
  sent: number;
  phase: Phase;
  /** The id of the iq awaiting the client's answer. */
  waiting: string | undefined;
}

/**
 * The gateway's side of XEP-0047 in-band bytestreams to one client: the file's bytes in base64
 * blocks, each an iq the client acknowledges (§2.3, "iq" stanzas: the acknowledgements are the
 * backpressure), opened with a block size the client may refuse as too large (§2.2,
 * resource-constraint: halved down to `MIN_IBB_BLOCK`), closed with `<close/>` (§2.4). What the
 * client answers is read here; the engine brings the bytes and the timers (`FilePush`).
 */
export class IbbPushes {
  readonly #bySid = new Map<string, Push>();
  readonly #byOffer = new Map<string, Push>();
  readonly #byIq = new Map<string, Push>();
  readonly #newId: () => string;

  constructor(newId: () => string) {
    this.#newId = newId;
  }

  open(offer: FileOfferEvent, blockSize: number, selfJid: string): SessionOutput {
    const out = emptyOutput();
    if (this.#byOffer.has(offer.id)) return out;
    if (this.#byOffer.size >= MAX_IBB_PUSHES) {
      out.events.push({
        type: 'file-closed',
        offerId: offer.id,
        error: new IbbProtocolError(`${MAX_IBB_PUSHES} bytestreams are open to this client (the limit)`),
      });
      return out;
    }
    const push: Push = {
      offerId: offer.id,
      sid: this.#newId(),
      from: addressToJid(offer.from),
      blockSize: Math.max(MIN_IBB_BLOCK, Math.min(MAX_IBB_BLOCK, Math.floor(blockSize))),
      seq: 0,
      sent: 0,
      phase: 'opening',
      waiting: undefined,
    };
    this.#bySid.set(push.sid, push);
    this.#byOffer.set(push.offerId, push);
    this.#sendOpen(push, selfJid, out);
    return out;
  }

  block(offerId: string, data: Uint8Array, selfJid: string): SessionOutput {
    const out = emptyOutput();
    const push = this.#byOffer.get(offerId);
    if (push?.phase !== 'ready') return out;
    if (data.length === 0 || data.length > push.blockSize) {
      this.#end(
        push,
        out,
        new IbbProtocolError(`a block of ${data.length} bytes (the size is ${push.blockSize})`),
      );
      out.toClient.push(...this.#closeStanza(push, selfJid));
      return out;
    }
    push.phase = 'sending';
    const seq = String(push.seq);
    // §2.2: seq counts from 0 and wraps after 65535.
    push.seq = (push.seq + 1) % 65_536;
    push.sent += data.length;
    const iq = this.#iq(push, selfJid, [
      element('data', { xmlns: NS.ibb, seq, sid: push.sid }, [Buffer.from(data).toString('base64')]),
    ]);
    out.toClient.push(iq);
    return out;
  }

  close(offerId: string, selfJid: string, error?: CrossTalkError): SessionOutput {
    const out = emptyOutput();
    const push = this.#byOffer.get(offerId);
    if (!push || push.phase === 'closing') return out;
    if (error) {
      // The engine gave up (the bytes did not come, the client stopped answering): §2.4 close, and forget it.
      out.toClient.push(...this.#closeStanza(push, selfJid));
      this.#forget(push);
      return out;
    }
    push.phase = 'closing';
    out.toClient.push(this.#iq(push, selfJid, [element('close', { xmlns: NS.ibb, sid: push.sid })]));
    return out;
  }

  /**
   * The client's answer (result or error) to an iq with id `id`: ours when it belongs to a
   * bytestream. Returns undefined when it is not.
   */
  answer(
    id: string,
    type: string,
    iq: XmlElement,
    scope: NsScope,
    selfJid: string,
  ): SessionOutput | undefined {
    const push = this.#byIq.get(id);
    if (!push) return undefined;
    this.#byIq.delete(id);
    push.waiting = undefined;
    const out = emptyOutput();
    if (type === 'result') {
      if (push.phase === 'closing') this.#end(push, out);
      else {
        push.phase = 'ready';
        out.events.push({ type: 'file-ready', offerId: push.offerId, max: push.blockSize });
      }
      return out;
    }
    const condition = errorCondition(iq, scope);
    if (push.phase === 'opening' && condition === 'resource-constraint') {
      // §2.2: the block size is too large for the client; offer a smaller one, down to the floor.
      if (push.blockSize <= MIN_IBB_BLOCK) {
        this.#end(push, out, new IbbBlockSizeError(MIN_IBB_BLOCK));
        return out;
      }
      push.blockSize = Math.max(MIN_IBB_BLOCK, Math.floor(push.blockSize / 2));
      this.#sendOpen(push, selfJid, out);
      return out;
    }
    if (push.phase === 'closing') {
      // The client forgot the stream before our close reached it: nothing more to do.
      this.#end(push, out);
      return out;
    }
    this.#end(push, out, new IbbRefusedError(condition, push.phase === 'opening' ? 'open' : 'data'));
    return out;
  }

  /**
   * An iq set from the client about a bytestream (`<open/>`, `<data/>`, `<close/>` in the IBB
   * namespace) to a foreign user; undefined when it is not one. A close of ours ends the transfer;
   * an unknown sid gets item-not-found (§2.4), and anything else of ours, which only the initiator
   * may send, ends the transfer as a protocol error.
   */
  request(iq: XmlElement, scope: NsScope, selfJid: string): SessionOutput | undefined {
    let ibb: { el: XmlElement; scope: NsScope } | undefined;
    for (const child of childElements(iq)) {
      const childScope = scopeIn(child, scope);
      if (namespaceOf(child, childScope) === NS.ibb) ibb = { el: child, scope: childScope };
    }
    if (!ibb) return undefined;
    const out = emptyOutput();
    const id = getAttr(iq, 'id');
    const to = getAttr(iq, 'to');
    const sid = getAttr(ibb.el, 'sid');
    const push = sid === undefined ? undefined : this.#bySid.get(sid);
    const answer = (condition?: string, errorType = 'cancel') =>
      out.toClient.push(
        encodeUtf8(
          writeElement(
            element(
              'iq',
              { type: condition ? 'error' : 'result', id, from: to, to: selfJid },
              condition
                ? [element('error', { type: errorType }, [element(condition, { xmlns: NS.stanzas })])]
                : [],
            ),
          ),
        ),
      );
    const what = localName(ibb.el.name);
    if (!push || (to !== undefined && bare(to) !== bare(push.from))) {
      // §2.4 (close), §2.3 (data): a stream nobody here knows.
      answer(what === 'open' ? 'service-unavailable' : 'item-not-found');
      return out;
    }
    if (what === 'close') {
      answer();
      this.#end(push, out, new IbbClosedError(push.sent));
      return out;
    }
    answer('bad-request', 'modify');
    this.#end(push, out, new IbbProtocolError(`the client sent <${what}/> on a stream the gateway opened`));
    return out;
  }

  /** Every bytestream ends with the connection. */
  clear(): void {
    this.#bySid.clear();
    this.#byOffer.clear();
    this.#byIq.clear();
  }

  #sendOpen(push: Push, selfJid: string, out: SessionOutput): void {
    out.toClient.push(
      this.#iq(push, selfJid, [
        element('open', {
          xmlns: NS.ibb,
          'block-size': String(push.blockSize),
          sid: push.sid,
          stanza: 'iq',
        }),
      ]),
    );
  }

  #iq(push: Push, selfJid: string, children: XmlElement[]): Uint8Array {
    const id = this.#newId();
    if (push.waiting) this.#byIq.delete(push.waiting);
    push.waiting = id;
    this.#byIq.set(id, push);
    return encodeUtf8(
      writeElement(element('iq', { type: 'set', id, from: push.from, to: selfJid }, children)),
    );
  }

  /** A close that expects no answer we act on (the transfer is already over here). */
  #closeStanza(push: Push, selfJid: string): Uint8Array[] {
    const stanza = this.#iq(push, selfJid, [element('close', { xmlns: NS.ibb, sid: push.sid })]);
    return [stanza];
  }

  #end(push: Push, out: SessionOutput, error?: CrossTalkError): void {
    this.#forget(push);
    out.events.push({ type: 'file-closed', offerId: push.offerId, ...(error ? { error } : {}) });
  }

  #forget(push: Push): void {
    this.#bySid.delete(push.sid);
    this.#byOffer.delete(push.offerId);
    // The answer to a last close is still withheld from the server (`answer` finds no push: the session's injected ids do).
    if (push.waiting) this.#byIq.delete(push.waiting);
  }
}

function bare(jid: string): string {
  const slash = jid.indexOf('/');
  return (slash < 0 ? jid : jid.slice(0, slash)).toLowerCase();
}

/** RFC 6120 §8.3.2: the defined condition inside an iq error; `undefined-condition` when there is none. */
function errorCondition(iq: XmlElement, scope: NsScope): string {
  const error = findChild(iq, scope, 'error', NS.client);
  if (!error) return 'undefined-condition';
  for (const c of childElements(error.el)) {
    if (namespaceOf(c, scopeIn(c, error.scope)) === NS.stanzas) return localName(c.name);
  }
  return 'undefined-condition';
}
