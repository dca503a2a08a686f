import {
  type Address,
  CrossTalkError,
  isCrossTalkError,
  PRESENCE_STATUSES,
  type PresenceStatus,
  parseAddress,
} from '@crosstalk/core';

/**
 * The lines `crosstalk chat` reads: a command (`/msg bob@yahoo hi`) or text for the current
 * conversation. Parsing is separate from doing, so that every command and every bad line can be
 * tested without a network.
 */
export type ChatCommand =
  | { type: 'msg'; to: Address; text: string }
  /** Text for the current conversation (the last `/msg` target, or whoever wrote last). */
  | { type: 'say'; text: string }
  | { type: 'add'; to: Address; message?: string }
  | { type: 'answer'; to: Address; accepted: boolean }
  | { type: 'file'; to: Address; path: string }
  | { type: 'get'; offer: number; path?: string }
  | { type: 'presence'; status: PresenceStatus; text?: string }
  | { type: 'typing'; to: Address }
  | { type: 'roster' }
  | { type: 'requests' }
  | { type: 'help' }
  | { type: 'quit' }
  /** A blank line: nothing to do. */
  | { type: 'none' };

/** A line that is not a command `crosstalk chat` can run: `message` says why, for the user. */
export class ChatUsageError extends CrossTalkError {
  override readonly name = 'ChatUsageError';
  readonly code = 'ERR_CHAT_USAGE';
}

/** The commands, as `/help` and `--help` list them. */
export const CHAT_COMMANDS: readonly (readonly [string, string])[] = [
  ['/msg <address> <text>', 'send an IM; the conversation switches to them'],
  ['<text>', 'an IM in the current conversation (// for a /)'],
  ['/add <address> [message]', 'ask a user to be your buddy'],
  ['/accept <address>', 'accept their buddy request'],
  ['/deny <address>', 'decline it'],
  ['/file <address> <path>', 'offer a file (fetched peer to peer)'],
  ['/get <n> [path]', 'fetch offer #n, with a progress bar; resumes'],
  ['/presence <status> [text]', PRESENCE_STATUSES.join(', ')],
  ['/typing <address>', 'tell them you are typing'],
  ['/roster', 'your buddies and their status'],
  ['/requests', 'buddy requests waiting for an answer'],
  ['/help', 'this list'],
  ['/quit', 'log out and exit (so does end of input)'],
];

/** Parses one input line; throws `ChatUsageError` for a line that is not a valid command. */
export function parseChatLine(line: string): ChatCommand {
  const trimmed = line.replace(/\r$/, '');
  if (trimmed.trim() === '') return { type: 'none' };
  if (!trimmed.startsWith('/')) return { type: 'say', text: trimmed };
  if (trimmed.startsWith('//')) return { type: 'say', text: trimmed.slice(1) };
  const [word, rest] = split(trimmed.slice(1));
  switch (word.toLowerCase()) {
    case 'msg':
    case 'm': {
      const [to, text] = split(rest);
      if (!to || !text) throw new ChatUsageError('usage: /msg <address> <text>');
      return { type: 'msg', to: address(to), text };
    }
    case 'add': {
      const [to, message] = split(rest);
      if (!to) throw new ChatUsageError('usage: /add <address> [message]');
      return message ? { type: 'add', to: address(to), message } : { type: 'add', to: address(to) };
    }
    case 'accept':
    case 'deny': {
      const [to, extra] = split(rest);
      if (!to || extra) throw new ChatUsageError(`usage: /${word.toLowerCase()} <address>`);
      return { type: 'answer', to: address(to), accepted: word.toLowerCase() === 'accept' };
    }
    case 'file': {
      const [to, path] = split(rest);
      if (!to || !path) throw new ChatUsageError('usage: /file <address> <path>');
      return { type: 'file', to: address(to), path };
    }
    case 'get': {
      const [n, path] = split(rest);
      const offer = Number(n.replace(/^#/, ''));
      if (!n || !Number.isSafeInteger(offer) || offer < 1) throw new ChatUsageError('usage: /get <n> [path]');
      return path ? { type: 'get', offer, path } : { type: 'get', offer };
    }
    case 'presence':
    case 'status': {
      const [status, text] = split(rest);
      if (!(PRESENCE_STATUSES as readonly string[]).includes(status))
        throw new ChatUsageError(`usage: /presence <${PRESENCE_STATUSES.join('|')}> [text]`);
      return text
        ? { type: 'presence', status: status as PresenceStatus, text }
        : { type: 'presence', status: status as PresenceStatus };
    }
    case 'typing': {
      const [to, extra] = split(rest);
      if (!to || extra) throw new ChatUsageError('usage: /typing <address>');
      return { type: 'typing', to: address(to) };
    }
    case 'roster':
    case 'buddies':
      return { type: 'roster' };
    case 'requests':
      return { type: 'requests' };
    case 'help':
    case '?':
      return { type: 'help' };
    case 'quit':
    case 'exit':
      return { type: 'quit' };
    default:
      throw new ChatUsageError(`unknown command /${word} (/help lists them)`);
  }
}

/** The first word and the rest (trimmed at the start; the rest keeps its inner spacing). */
function split(s: string): [string, string] {
  const m = /^\s*(\S*)\s*([\s\S]*)$/.exec(s)!;
  return [m[1]!, m[2]!];
}

function address(s: string): Address {
  try {
    return parseAddress(s);
  } catch (error) {
    if (isCrossTalkError(error)) throw new ChatUsageError(`not an address: ${error.message}`);
    throw error;
  }
}
