import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { LASTFM_INVALID_API_KEY, LASTFM_USER_NOT_FOUND } from './lastfm-recorded.js';

/** A running Last.fm stand-in (`startLastfmServer`). */
export interface LastfmTestServer {
  /** The API root to give `lastfmProvider({ baseUrl })`. */
  readonly url: string;
  /** Every request's URL, in order. */
  readonly requests: URL[];
  /** Stops the server, closing its connections. */
  close(): Promise<void>;
}

/**
 * A stand-in for Last.fm's API on 127.0.0.1 (never the internet): `user.getrecenttracks` for the
 * users given answers their recorded body; an unknown user gets error 6, a wrong key error 10,
 * with the HTTP statuses Last.fm uses (404, 403).
 */
export async function startLastfmServer(options: {
  apiKey: string;
  users: Readonly<Record<string, unknown>>;
}): Promise<LastfmTestServer> {
  const requests: URL[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(url);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    };
    if (url.searchParams.get('api_key') !== options.apiKey) return send(403, LASTFM_INVALID_API_KEY);
    if (url.searchParams.get('method')?.toLowerCase() !== 'user.getrecenttracks')
      return send(400, { error: 3, message: 'Invalid Method - No method with that name in this package' });
    const user = url.searchParams.get('user') ?? '';
    const body = Object.hasOwn(options.users, user) ? options.users[user] : undefined;
    if (body === undefined) return send(404, LASTFM_USER_NOT_FOUND);
    send(200, body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/2.0/`,
    requests,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}
