import {
  type Address,
  MemoryCookieTable,
  type ProxySession,
  type SessionContext,
  type SessionOutput,
  utf8,
} from '@crosstalk/core';
import {
  DEFAULT_MAX_ATTRIBUTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_NAME_LENGTH,
  DEFAULT_MAX_NAMESPACE_DECLARATIONS,
  DEFAULT_MAX_REFERENCES,
  DEFAULT_MAX_STANZA_NAMESPACE_DECLARATIONS,
  DEFAULT_MAX_STANZA_SIZE,
  StanzaFramer,
  type XmppCodecOptions,
  xmpp,
} from '../src/index.js';

/**
 * Stanzas that cost a parser the most per byte (issue 13): many namespace declarations, many
 * attributes, deep nesting, many references, long names; and a harness that pushes one through
 * every step that parses bytes from the wire: the framer, the frame codec (both parsers) and a
 * proxy session (before login from the client, after login from the server).
 */

export const C_HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
const S_HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='s1' version='1.0'>";
const PLAIN = Buffer.from('\u0000alice\u0000secret').toString('base64');

/** The prefix of the `i`th declaration (base 36 keeps the bytes per declaration low). */
export const prefix = (i: number) => `p${i.toString(36)}`;

/** ` xmlns:p0='u' xmlns:p1='u' ...` */
export const declarations = (n: number, from = 0) => {
  const out: string[] = [];
  for (let i = from; i < from + n; i++) out.push(` xmlns:${prefix(i)}='u'`);
  return out.join('');
};

/** ` a0='v' a1='v' ...` */
export const attributes = (n: number, value = 'v') => {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(` a${i.toString(36)}='${value}'`);
  return out.join('');
};

export const nested = (n: number, inner = '') => `${'<a>'.repeat(n)}${inner}${'</a>'.repeat(n)}`;

export const references = (n: number) => '&lt;'.repeat(n);

/** Every cap at the default, as options; `lifted` gives every cap (and the frame size) room for `n` of anything. */
export const DEFAULTS = {
  maxStanzaSize: DEFAULT_MAX_STANZA_SIZE,
  maxDepth: DEFAULT_MAX_DEPTH,
  maxAttributes: DEFAULT_MAX_ATTRIBUTES,
  maxNamespaceDeclarations: DEFAULT_MAX_NAMESPACE_DECLARATIONS,
  maxStanzaNamespaceDeclarations: DEFAULT_MAX_STANZA_NAMESPACE_DECLARATIONS,
  maxReferences: DEFAULT_MAX_REFERENCES,
  maxNameLength: DEFAULT_MAX_NAME_LENGTH,
} as const;

export const LIFTED: XmppCodecOptions = {
  maxStanzaSize: 64 * 1024 * 1024,
  maxDepth: 1_000_000,
  maxAttributes: 1_000_000,
  maxNamespaceDeclarations: 1_000_000,
  maxStanzaNamespaceDeclarations: 1_000_000,
  maxReferences: 10_000_000,
  maxNameLength: 10_000_000,
};

/**
 * The worst stanza under the default caps, all at once, as close to `size` bytes as it gets:
 * a root at the attribute cap (half of it namespace declarations); a chain of elements down to the
 * depth cap, each at the per-element declaration and attribute caps (with a reference in every
 * value and a name at the length cap) until the per-stanza declaration cap is spent; a body of
 * references up to the reference cap; then siblings at the attribute cap, and text, up to `size`.
 */
export function worstStanza(root: { name: string; attrs: string }, size = DEFAULT_MAX_STANZA_SIZE): string {
  const d = DEFAULTS;
  const longName = (i: number) => `n${i}${'x'.repeat(d.maxNameLength - 1 - String(i).length)}`;
  let decls = 0;
  let refs = 0;
  const open: string[] = [];
  const close: string[] = [];
  const rootAttrs = (root.attrs.match(/=/g) ?? []).length;
  // Root: its own attributes, declarations up to the per-element cap, plain attributes to the cap.
  const rootDecls = d.maxNamespaceDeclarations;
  decls += rootDecls;
  open.push(
    `<${root.name}${root.attrs}${declarations(rootDecls)}${attributes(d.maxAttributes - rootAttrs - rootDecls)}>`,
  );
  close.push(`</${root.name}>`);
  // The chain, depth 2 .. maxDepth; prefixed names bound by the element's own declarations.
  const chain: string[] = [];
  const chainClose: string[] = [];
  for (let depth = 2; depth <= d.maxDepth; depth++) {
    const n = Math.min(d.maxNamespaceDeclarations, d.maxStanzaNamespaceDeclarations - decls);
    const name = n > 0 ? `${prefix(decls)}:e` : 'e';
    const plain = d.maxAttributes - n - 1;
    refs += plain + 1;
    chain.push(`<${name}${declarations(n, decls)} ${longName(depth)}='&lt;'${attributes(plain, '&lt;')}>`);
    chainClose.unshift(`</${name}>`);
    decls += n;
  }
  const body = `<body>${references(d.maxReferences - refs)}</body>`;
  let stanza = open.join('') + body + chain.join('') + chainClose.join('');
  const end = close.join('');
  const sibling = `<f${attributes(d.maxAttributes)}/>`;
  const bytes = (s: string) => Buffer.byteLength(s);
  const room = size - bytes(stanza) - bytes(end);
  if (room < 0) throw new Error(`the worst stanza needs ${-room} more bytes than ${size}`);
  stanza += sibling.repeat(Math.floor(room / sibling.length));
  stanza += 'x'.repeat(size - bytes(stanza) - bytes(end));
  return stanza + end;
}

function context(): SessionContext {
  let n = 0;
  return {
    connectionId: 'c1',
    target: { host: '127.0.0.1', port: 5222 },
    isForeign: (a: Address) => ['aol', 'icq', 'msn', 'yahoo'].includes(a.network),
    foreignRoster: () => [],
    cookies: new MemoryCookieTable(),
    endpoints: {
      allocate: () => {
        throw new Error('unused');
      },
      release: () => {},
    },
    now: () => 1_700_000_000_000,
    newId: () => `inj${++n}`,
  };
}

/** A new session (nothing seen yet). */
export function newSession(options: XmppCodecOptions = {}): ProxySession {
  return xmpp(options).openSession(context());
}

/** A session that has seen the client's stream header (nobody logged in). */
export function preLoginSession(options: XmppCodecOptions = {}): ProxySession {
  const session = newSession(options);
  session.fromClient(utf8(C_HEADER));
  return session;
}

/** A session after a PLAIN login and bind as alice@localhost/desk. */
export function verifiedSession(options: XmppCodecOptions = {}): ProxySession {
  const session = newSession(options);
  const steps: [side: 'client' | 'server', text: string][] = [
    ['client', C_HEADER],
    [
      'server',
      `${S_HEADER}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
    ],
    ['client', `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${PLAIN}</auth>`],
    ['server', "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"],
    ['client', C_HEADER],
    [
      'server',
      `${S_HEADER}<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`,
    ],
    [
      'client',
      "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk</resource></bind></iq>",
    ],
    [
      'server',
      "<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/desk</jid></bind></iq>",
    ],
  ];
  for (const [side, text] of steps) {
    const { refused } = feed(session, side, utf8(text));
    if (refused !== undefined) throw new Error(`the login failed at ${text}`, { cause: refused });
  }
  if (session.state !== 'verified') throw new Error(`the login did not verify (${session.state})`);
  return session;
}

/**
 * What a session did with one chunk: its output, or the error it threw; `refused` is the error
 * it ended with either way (thrown, or carried by a `closed` event when it had output to give).
 */
export function feed(session: ProxySession, side: 'client' | 'server', bytes: Uint8Array) {
  try {
    const out: SessionOutput = side === 'client' ? session.fromClient(bytes) : session.fromServer(bytes);
    const closed = out.events.find((e) => e.type === 'closed');
    return { out, error: undefined, refused: closed?.type === 'closed' ? closed.error : undefined };
  } catch (error) {
    return { out: undefined, error, refused: error };
  }
}

/** One step that parses wire bytes: `prepare` builds what it needs, the function it returns is the step. */
export interface ParsingStep {
  step: string;
  prepare(): () => void;
}

/**
 * Every step a gateway takes to parse one stanza: the framer, the frame codec with either parser,
 * a session before login (client bytes, what a stranger can send) and a verified session (client
 * and server bytes). A step may end in an error (a stanza over a cap is refused); that is part of
 * the step, never thrown.
 */
export function parsingSteps(bytes: Uint8Array, options: XmppCodecOptions = {}): ParsingStep[] {
  const maxFrameSize = options.maxStanzaSize ?? DEFAULT_MAX_STANZA_SIZE;
  const quietly = (fn: () => unknown) => () => {
    try {
      fn();
    } catch {}
  };
  const auto = xmpp(options);
  const fxp = xmpp({ ...options, parser: 'fast-xml-parser' });
  return [
    {
      step: 'framer',
      prepare: () => {
        const framer = new StanzaFramer({
          maxFrameSize,
          ...(options.maxDepth ? { maxDepth: options.maxDepth } : {}),
        });
        return quietly(() => framer.push(bytes));
      },
    },
    { step: 'decode', prepare: () => quietly(() => auto.frames.decode(bytes, 'client')) },
    { step: 'decode (fast-xml-parser)', prepare: () => quietly(() => fxp.frames.decode(bytes, 'client')) },
    {
      step: 'session before login, from the client',
      prepare: () => {
        const session = preLoginSession(options);
        return () => feed(session, 'client', bytes);
      },
    },
    {
      step: 'verified session, from the client',
      prepare: () => {
        const session = verifiedSession(options);
        return () => feed(session, 'client', bytes);
      },
    },
    {
      step: 'verified session, from the server',
      prepare: () => {
        const session = verifiedSession(options);
        return () => feed(session, 'server', bytes);
      },
    },
  ];
}

/** CPU time this process spent, in milliseconds (user and system). */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Median of `times` (not empty). */
function median(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** CPU time of `repeat` back-to-back runs of a step, each prepared beforehand, outside the timing. */
function timeRuns(step: Pick<ParsingStep, 'prepare'>, repeat: number): number {
  const prepared = Array.from({ length: repeat }, () => step.prepare());
  const start = cpuMs();
  for (const run of prepared) run();
  return cpuMs() - start;
}

/**
 * Median time in milliseconds of a step over `runs` runs, after a warm-up run. The time is the CPU
 * time the process spends, not wall time: on a shared machine other processes take turns with us
 * and would decide wall times.
 */
export function medianMs(step: Pick<ParsingStep, 'prepare'>, runs = 5): number {
  timeRuns(step, 1);
  return median(Array.from({ length: runs }, () => timeRuns(step, 1)));
}

/**
 * How much longer `large` takes than `small`: medians of CPU time over `runs` runs of each, taken
 * in turns after both are warm (so a slower spell of the machine or the JIT compiling falls on
 * both), each run repeating the step enough to last about `targetMs` for `small` (the same count
 * for `large`), so that a garbage collection falling into one run does not decide it.
 */
export function timeRatio(
  small: Pick<ParsingStep, 'prepare'>,
  large: Pick<ParsingStep, 'prepare'>,
  runs = 5,
  targetMs = 5,
): number {
  for (let i = 0; i < 3; i++) {
    timeRuns(small, 1);
    timeRuns(large, 1);
  }
  const once = medianMs(small, 3);
  const repeat = Math.max(1, Math.min(1000, Math.ceil(targetMs / Math.max(once, 0.005))));
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    a.push(timeRuns(small, repeat));
    b.push(timeRuns(large, repeat));
  }
  return median(b) / median(a);
}
