import { join } from 'node:path';
import {
  codecSuite,
  goldensFromTranscript,
  type LoginScript,
  readTranscript,
  type TranscriptEntry,
} from '@crosstalk/compliance';
import { type Address, type CanonicalEvent, isDomainNetwork, isKnownNetwork, utf8 } from '@crosstalk/core';
import fc from 'fast-check';
import { irc } from '../src/index.js';

const fixture = (name: string) => readTranscript(join(import.meta.dirname, 'fixtures', name));
const text = (e: TranscriptEntry) => Buffer.from(e.bytes).toString('utf8');
const alice: Address = { user: 'alice', network: 'irc' };

/** A recorded login, to (not including) the client's QUIT; ngIRCd's 001 confirms it. */
function login(name: string, file: string): LoginScript {
  const writes = fixture(file).filter((e) => !text(e).startsWith('QUIT'));
  const confirmedAt = writes.findIndex((e) => e.direction === 'server' && / 001 alice /.test(text(e)));
  return { name, writes, user: alice, confirmedAt };
}

const ii = login('ngIRCd and ii: PASS, NICK, USER', 'ngircd-ii-login.jsonl');
const irssi = login('ngIRCd and irssi: CAP LS 302, NICK, USER', 'ngircd-irssi-login.jsonl');

// IRC nicknames (RFC 2812 §2.3.1), longer than the RFC's 9 as servers allow.
const special = '[]\\`_^{|}';
const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const nick = fc
  .tuple(
    fc.constantFrom(...(letters + special).split('')),
    fc.string({ unit: fc.constantFrom(...(letters + special + '0123456789-').split('')), maxLength: 15 }),
  )
  .map(([first, rest]) => ({ user: first + rest, network: 'irc' }));

/** What IRC cannot carry as generated; each reduction says why. */
function prepare(event: CanonicalEvent): CanonicalEvent | undefined {
  if (event.kind === 'im') {
    // A line break ends an IRC message (RFC 2812 §2.3.1: no CR, LF or NUL inside), so a text with
    // one becomes one PRIVMSG per line, NUL dropped; \x01 delimits CTCP. test/translator.test.ts
    // checks those.
    if (/[\r\n\0\x01]/.test(event.text)) return undefined;
    // A text longer than one 512-byte message is cut into several PRIVMSGs (checked there too).
    if (utf8(event.text).length > 300) return undefined;
  }
  return event;
}

codecSuite({
  codec: irc(),
  goldens: [
    ...goldensFromTranscript('ii', fixture('ngircd-ii-login.jsonl')),
    ...goldensFromTranscript('irssi', fixture('ngircd-irssi-login.jsonl')),
  ],
  sniffYes: [
    { name: 'ii: PASS first', direction: 'client', bytes: ii.writes[0]!.bytes },
    { name: 'irssi: CAP LS first', direction: 'client', bytes: irssi.writes[0]!.bytes },
    {
      name: 'a server greeting first',
      direction: 'server',
      bytes: utf8(':irc.example.net NOTICE * :*** Looking up your hostname...\r\n'),
    },
  ],
  sniffNo: [
    { name: 'MSNP VER', direction: 'client', bytes: utf8('VER 1 MSNP8 CVR0\r\n') },
    { name: 'XMPP stream', direction: 'client', bytes: utf8("<?xml version='1.0'?><stream:stream>") },
    { name: 'YMSG header', direction: 'client', bytes: utf8('YMSG\u0000\u0010\u0000\u0000') },
    { name: 'OSCAR FLAP', direction: 'server', bytes: Uint8Array.of(0x2a, 1, 0, 1, 0, 4, 0, 0, 0, 1) },
  ],
  logins: [ii, irssi],
  refusedLogins: [
    { name: 'ngIRCd and ii: a wrong server password', writes: fixture('ngircd-ii-bad-password.jsonl') },
  ],
  // As a gateway that also bridges XMPP sees it: XMPP domains are foreign too.
  isForeign: (a) => a.network !== 'irc' && (isKnownNetwork(a.network) || isDomainNetwork(a.network)),
  translation: { nativeAddress: nick, prepare },
});
