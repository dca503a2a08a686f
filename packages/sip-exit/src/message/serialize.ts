import type { SipMessage } from './message.js';

const encoder = new TextEncoder();

/** The bytes of a SIP message: start line, headers in order, a Content-Length computed from the body, the body. */
export function serializeSipMessage(message: SipMessage): Uint8Array {
  const start =
    message.kind === 'request'
      ? `${message.method} ${message.uri} SIP/2.0`
      : `SIP/2.0 ${message.status} ${message.reason}`;
  let head = `${start}\r\n`;
  for (const { name, value } of message.headers.entries())
    if (name.toLowerCase() !== 'content-length') head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${message.body.length}\r\n\r\n`;
  const headBytes = encoder.encode(head);
  if (message.body.length === 0) return headBytes;
  const out = new Uint8Array(headBytes.length + message.body.length);
  out.set(headBytes, 0);
  out.set(message.body, headBytes.length);
  return out;
}
