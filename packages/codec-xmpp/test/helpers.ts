import { isCrossTalkError } from '@crosstalk/core';
import { client } from '@xmpp/client';

/** The code of the CrossTalk error `fn` throws, undefined when it throws none; rethrows anything untyped. */
export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (!isCrossTalkError(error)) throw error;
    return error.code;
  }
  return undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: @xmpp/client 0.14 ships no types
export type XmppJsClient = any;

/**
 * A real @xmpp/client for `user@localhost` on a loopback port, forced onto SASL PLAIN (PEERS.md:
 * SCRAM costs about a second of CPU; on a plain connection it would otherwise pick SCRAM).
 */
export function xmppJsClient(options: {
  port: number;
  user: string;
  password: string;
  resource: string;
}): XmppJsClient {
  const entity = client({
    service: `xmpp://127.0.0.1:${options.port}`,
    domain: 'localhost',
    resource: options.resource,
    username: options.user,
    password: options.password,
    credentials: (authenticate: (c: object, m: string) => Promise<void>) =>
      authenticate({ username: options.user, password: options.password }, 'PLAIN'),
  });
  entity.on('error', () => {});
  return entity;
}
