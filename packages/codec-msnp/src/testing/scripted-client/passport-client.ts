import { type DialFunction, directDial } from './client-connection.js';

/**
 * Gets a TWN ticket from the mock's Passport stand-in over the wire (`GET /login2.srf` with a
 * Passport1.4 `Authorization`, on the mock's notification port), as a client in another process
 * must: it cannot call `issueTicket`. Resolves with the `from-PP` value (`t=ticket&p=profile`) a
 * client sends in `USR t TWN S`, or undefined when the credentials were refused.
 */
export function passportOverHttp(
  server: { host: string; port: number },
  dial: DialFunction = directDial,
): (email: string, password: string) => Promise<string | undefined> {
  return async (email, password) => {
    const socket = await dial(server.host, server.port);
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    // Written, not ended: a half-closed client may lose the answer on the way back through a proxy.
    socket.write(
      `GET /login2.srf HTTP/1.1\r\nHost: ${server.host}\r\nAuthorization: Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in=${encodeURIComponent(email)},pwd=${encodeURIComponent(password)},lc=1033,id=507\r\nConnection: close\r\n\r\n`,
    );
    await ended;
    return /from-PP='([^']*)'/.exec(Buffer.concat(chunks).toString('latin1'))?.[1];
  };
}
