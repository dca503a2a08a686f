import { type CanonicalEvent, eventFromJson, eventToJson } from '@crosstalk/core';

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
    if (bytes.length > MAX_EVENT_BYTES) throw new RangeError('canonical event too large');
    return eventFromJson(JSON.parse(Buffer.from(bytes).toString('utf8')));
  },
};
