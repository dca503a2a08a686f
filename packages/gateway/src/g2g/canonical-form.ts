import { type CanonicalEvent, eventFromJson, eventToJson, FrameTooLargeError } from '@crosstalk/core';
import { G2gProtocolError } from '../errors/errors.js';

/**
 * How canonical events travel between gateways. The default wire format is codec-xmpp's stanza
 * form (the CLI wires it in; the gateway never imports a codec); `jsonForm` is the fallback
 * for embedders that register no XMPP codec. `decode` is a trust boundary: it must validate.
 */
export interface CanonicalForm {
  readonly name: string;
  encode(event: CanonicalEvent): Uint8Array;
  decode(bytes: Uint8Array): CanonicalEvent;
}

const MAX_EVENT_BYTES = 256 * 1024;

/** Canonical events as their JSON form (`eventToJson`), validated on decode and capped in size. */
export const jsonForm: CanonicalForm = {
  name: 'json',
  encode: (event) => Buffer.from(JSON.stringify(eventToJson(event))),
  decode: (bytes) => {
    // A peer's bytes: every failure is typed, so the link refuses the event and carries on.
    if (bytes.length > MAX_EVENT_BYTES) throw new FrameTooLargeError('g2g', bytes.length, MAX_EVENT_BYTES);
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch (cause) {
      throw new G2gProtocolError('canonical event is not JSON', { cause });
    }
    return eventFromJson(json);
  },
};
