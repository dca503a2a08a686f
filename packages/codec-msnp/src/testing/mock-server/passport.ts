import type { Socket } from 'node:net';
import type { MockDirectory } from './directory.js';

/** Longest request head the stand-in reads. */
const MAX_HEAD = 8192;
const GET = Buffer.from('GET ');

/** True when a connection to the mock opens with an HTTP request (Passport) rather than MSNP. */
export function isPassportRequest(first: Uint8Array): boolean {
  return first.length >= GET.length && Buffer.from(first.subarray(0, GET.length)).equals(GET);
}

/**
 * The Passport 1.4 stand-in on the mock's own ports, as Escargot's plain-HTTP `/login2.srf` answers
 * (captures/README.md): the client sends `Authorization: Passport1.4 ...,sign-in=passport,pwd=password,...`
 * and gets `Authentication-Info: Passport1.4 da-status=success,...,from-PP='t=ticket&p=profile'`,
 * whose `from-PP` value it sends in `USR t TWN S`. Wrong credentials get 401 `da-status=failed`.
 * The ticket is one `issueTicket` would hand out (single use). This lets a client in another
 * process, which cannot call `issueTicket`, log in over the wire.
 */
export function servePassport(socket: Socket, first: Uint8Array, directory: MockDirectory): void {
  let head = Buffer.from(first);
  const answer = () => {
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > MAX_HEAD) socket.destroy();
      return;
    }
    socket.off('data', more);
    const auth = /^authorization:\s*Passport1\.4\s+(.*)$/im.exec(
      head.subarray(0, end).toString('latin1'),
    )?.[1];
    const fields = new Map(
      (auth ?? '').split(',').map((kv) => {
        const i = kv.indexOf('=');
        return [kv.slice(0, i).trim().toLowerCase(), kv.slice(i + 1).trim()] as const;
      }),
    );
    const ticket = directory.issueTicket(
      decodeURIComponent(fields.get('sign-in') ?? ''),
      decodeURIComponent(fields.get('pwd') ?? ''),
    );
    socket.end(
      ticket === undefined
        ? 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Passport1.4 da-status=failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
        : `HTTP/1.1 200 OK\r\nAuthentication-Info: Passport1.4 da-status=success,tname=MSPAuth,tname=MSPProf,tname=MSPSec,from-PP='t=${ticket}&p=${ticket}',ru=http://messenger.msn.com\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
  };
  const more = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    answer();
  };
  socket.on('data', more);
  socket.on('error', () => socket.destroy());
  answer();
}
