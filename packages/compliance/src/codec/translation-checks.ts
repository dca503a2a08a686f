import assert from 'node:assert/strict';
import {
  type Address,
  addressEquals,
  type CanonicalEvent,
  type Codec,
  concatBytes,
  type Direction,
  defaultIsForeign,
  EVENT_KINDS,
  type EventKind,
  formatAddress,
  isCrossTalkError,
  subtractFeatures,
  type Translator,
  type TranslatorOptions,
} from '@crosstalk/core';
import fc from 'fast-check';
import {
  arbAddress,
  arbAolAddress,
  arbEventOfKind,
  arbIcqAddress,
  arbMsnAddress,
  arbXmppAddress,
  arbYahooAddress,
} from '../arbitraries/events.js';
import type { LoginScript } from './login-script.js';

/** Tuning of the translation checks, for what a protocol cannot carry as generated. */
export interface TranslationCheckOptions {
  /**
   * Users of the codec's own network. Default: the arbitrary of a built-in network the codec
   * declares (`aol`, `icq`, `yahoo`, `msn`, `xmpp`), else the users of the login scripts.
   */
  nativeAddress?: fc.Arbitrary<Address>;
  /**
   * Reduces a generated event to what the protocol carries without loss, or returns undefined to
   * skip it; applied after `subtractFeatures(event, codec.features)`. Say why in a comment for each
   * reduction: the checks compare what comes back with what this returns.
   */
  prepare?(event: CanonicalEvent, direction: Direction): CanonicalEvent | undefined;
  /**
   * Brings a fresh reader translator into the state an event needs before its frames are read
   * back (feed it the frames of an MSNP switchboard that has called `event.to`).
   */
  prime?(reader: Translator<unknown>, event: CanonicalEvent, direction: Direction): void;
  /** fast-check runs per event kind and direction. Default 50. */
  runs?: number;
}

/** What the translation and session checks share about one codec under test. */
export interface TranslationSetup {
  codec: Codec;
  isForeign: (a: Address) => boolean;
  native: fc.Arbitrary<Address> | undefined;
  foreign: fc.Arbitrary<Address>;
  prepare(event: CanonicalEvent, direction: Direction): CanonicalEvent | undefined;
  prime: TranslationCheckOptions['prime'];
  translatorOptions(self?: Address): TranslatorOptions;
  /** Bytes of frames as the codec encodes them. */
  encode(frames: readonly unknown[]): Uint8Array;
  /** The events a reader finds in `bytes` written by `direction`, through the codec's framer and decoder. */
  read(reader: Translator<unknown>, bytes: Uint8Array, direction: Direction): CanonicalEvent[];
}

const NATIVE_BY_NETWORK: Record<string, fc.Arbitrary<Address>> = {
  aol: arbAolAddress,
  icq: arbIcqAddress,
  yahoo: arbYahooAddress,
  msn: arbMsnAddress,
  xmpp: arbXmppAddress,
};

/** Kinds whose events name one sender and one addressee. */
export const ADDRESSED_KINDS: readonly EventKind[] = [
  'im',
  'typing',
  'buddy-request',
  'buddy-response',
  'file-offer',
  'call-invite',
];

export function translationSetup(
  codec: Codec,
  options: {
    isForeign?: (a: Address) => boolean;
    translation?: TranslationCheckOptions;
    logins?: readonly LoginScript[];
  },
): TranslationSetup {
  const isForeign = options.isForeign ?? defaultIsForeign(codec.networks);
  const t = options.translation ?? {};
  const builtIn = codec.networks.map((n) => NATIVE_BY_NETWORK[n]).filter((a) => a !== undefined);
  const users = (options.logins ?? []).map((l) => l.user);
  const native =
    t.nativeAddress ??
    (builtIn.length > 0 ? fc.oneof(...builtIn) : users.length > 0 ? fc.constantFrom(...users) : undefined);
  let ids = 0;
  return {
    codec,
    isForeign,
    native,
    foreign: arbAddress.filter(isForeign),
    prepare(event, direction) {
      const reduced = subtractFeatures(event, codec.features).event;
      if (!reduced) return undefined;
      return t.prepare ? t.prepare(reduced, direction) : reduced;
    },
    prime: t.prime,
    translatorOptions: (self) => ({
      isForeign,
      now: () => 1_700_000_000_000,
      newId: () => `check-${++ids}`,
      ...(self ? { self } : {}),
    }),
    encode: (frames) => concatBytes(frames.map((f) => codec.frames.encode(f))),
    read(reader, bytes, direction) {
      const framer = codec.createFramer(direction);
      const events: CanonicalEvent[] = [];
      for (const raw of framer.push(bytes)) {
        events.push(...reader.toEvents(codec.frames.decode(raw, direction), direction));
      }
      if (framer.error) throw framer.error;
      framer.end();
      return events;
    },
  };
}

const show = (a: Address | undefined) => (a ? formatAddress(a) : 'none');

/**
 * Why `got` does not carry `sent`'s parties (and, for an IM, its text), or undefined when it does.
 * A presence broadcast may come back addressed or not; everything else keeps its `to`. An IM's
 * text is compared when it has no `html`.
 */
export function partiesProblem(sent: CanonicalEvent, got: CanonicalEvent): string | undefined {
  if (got.kind !== sent.kind) return `a ${got.kind} event came back for a ${sent.kind}`;
  if (sent.kind === 'roster' && got.kind === 'roster') {
    return addressEquals(sent.owner, got.owner)
      ? undefined
      : `roster owner ${show(got.owner)} instead of ${show(sent.owner)}`;
  }
  if (!('from' in sent) || !('from' in got)) return undefined;
  if (!addressEquals(sent.from, got.from)) return `from ${show(got.from)} instead of ${show(sent.from)}`;
  const sentTo = 'to' in sent ? sent.to : undefined;
  const gotTo = 'to' in got ? got.to : undefined;
  if (sentTo && gotTo && !addressEquals(sentTo, gotTo)) return `to ${show(gotTo)} instead of ${show(sentTo)}`;
  if (sentTo && !gotTo && sent.kind !== 'presence') return `to ${show(sentTo)} was lost`;
  // With `html`, protocols that carry only markup derive the text from it (and generated text and
  // html are unrelated), so the text is compared for plain IMs only.
  if (sent.kind === 'im' && got.kind === 'im' && sent.html === undefined && got.text !== sent.text) {
    return `text ${JSON.stringify(got.text)} instead of ${JSON.stringify(sent.text)}`;
  }
  return undefined;
}

/** `event` with the given parties: `self` is the sender when the client writes, the addressee otherwise. */
function addressed(
  event: CanonicalEvent,
  self: Address,
  other: Address,
  direction: Direction,
): CanonicalEvent {
  const [from, to] = direction === 'client' ? [self, other] : [other, self];
  switch (event.kind) {
    case 'roster':
      return { ...event, owner: self };
    case 'presence': {
      const { to: _to, ...rest } = event;
      return event.to === undefined ? { ...rest, from } : { ...rest, from, to };
    }
    default:
      return { ...event, from, to };
  }
}

function declaredKinds(codec: Codec): EventKind[] {
  return EVENT_KINDS.filter((k) => codec.features.has(k));
}

/**
 * Generated events of every kind the codec declares, both directions: `fromEvent`, then encode,
 * the codec's own framer and decoder, then `toEvents` on a second translator give back the kind,
 * the parties (a translator that swaps from and to fails here) and an IM's text. A decoder that
 * returns its raw form for everything finds nothing and fails too.
 */
export function translationRoundTrip(setup: TranslationSetup, runs: number): () => void {
  return () => {
    const { codec } = setup;
    // A relay-only codec (the toy) declares no kind: it has nothing to translate.
    const kinds = declaredKinds(codec);
    if (kinds.length === 0) return;
    assert.ok(
      setup.native,
      `${codec.protocol}: no native address arbitrary (set translation.nativeAddress, or give login scripts)`,
    );
    for (const direction of ['client', 'server'] as const) {
      for (const kind of kinds) {
        // A roster is the list the server sends; what a client writes about its list are other events.
        if (kind === 'roster' && direction === 'client') continue;
        // The counterexample fast-check prints is the event as sent, with the translators' user.
        const cases = fc
          .tuple(
            arbEventOfKind[kind] as fc.Arbitrary<CanonicalEvent>,
            setup.native!,
            fc.oneof(setup.native!, setup.foreign),
          )
          .filter(([, self, peer]) => !addressEquals(self, peer)) // someone else, not a note to oneself
          .map(([e, self, peer]) => ({
            self,
            event: setup.prepare(addressed(e, self, peer, direction), direction),
          }));
        fc.assert(
          fc.property(cases, ({ self, event }) => {
            if (!event) return;
            const where = `${kind} as the ${direction} writes it`;
            const writer = codec.createTranslator(setup.translatorOptions(self));
            let frames: unknown[];
            try {
              frames = writer.fromEvent(event, direction);
            } catch (error) {
              if (isCrossTalkError(error, 'ERR_UNSUPPORTED_EVENT')) {
                assert.fail(`${where}: fromEvent refused a declared kind: ${(error as Error).message}`);
              }
              throw error;
            }
            // An empty roster may have nothing to say.
            if (frames.length === 0 && event.kind === 'roster' && event.items.length === 0) return;
            assert.ok(frames.length > 0, `${where}: fromEvent gave no frames`);
            const reader = codec.createTranslator(setup.translatorOptions(self));
            setup.prime?.(reader, event, direction);
            const back = setup.read(reader, setup.encode(frames), direction);
            const same = back.find((b) => b.kind === event.kind);
            assert.ok(
              same,
              `${where}: nothing of that kind came back (got ${back.map((b) => b.kind).join(', ') || 'no events'})`,
            );
            const problem = partiesProblem(event, same);
            assert.ok(problem === undefined, `${where}: ${problem}`);
          }),
          { numRuns: runs, endOnFailure: true },
        );
      }
    }
  };
}
