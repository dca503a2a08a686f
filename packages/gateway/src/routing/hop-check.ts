import {
  ForgedEnvelopeError,
  HopLimitError,
  InvalidEnvelopeError,
  NotNextHopError,
  RouteLoopError,
  StaleEnvelopeError,
  WrongPreviousHopError,
} from '../errors/errors.js';
import { type EnvelopeHeader, type EnvelopeStep, envelopeSignatureValid } from './envelope.js';
import { edgeName } from './formats.js';

/** What a hop knows when an envelope arrives. */
export interface HopContext {
  /** This gateway's id. */
  self: string;
  /** The gateway the link that brought the envelope is authenticated as. */
  sender: string;
  /** Clock, ms. */
  now: number;
  /** How old a signature may be, ms. */
  maxAge: number;
  /** How far ahead of `now` it may be dated, ms. */
  maxSkew: number;
  /** Whether this gateway performs the translation `from>to`. */
  performs(from: string, to: string): boolean;
}

/** What this hop does with an envelope that passed the checks. */
export interface HopPlan {
  /** This gateway's steps, in order (one or more consecutive steps of the chain). */
  mine: EnvelopeStep[];
  /** The index of the first step after them; equal to the chain's length when this hop delivers. */
  after: number;
  /** The step after them, performed by the next gateway; undefined when this hop delivers. */
  next: EnvelopeStep | undefined;
}

/** The gateway an event is with before step `i`: the previous step's, or the origin before the first. */
export function gatewayBefore(header: Pick<EnvelopeHeader, 'chain' | 'origin'>, i: number): string {
  return i === 0 ? header.origin : header.chain[i - 1]!.gateway;
}

/**
 * The structure of a chain, whoever holds it: consecutive formats, no format visited twice and no
 * gateway (the origin included: it holds the event before the first step, and usually performs it)
 * in two separate runs of steps (a loop). Throws `InvalidEnvelopeError` or `RouteLoopError`.
 */
export function checkChain(header: Pick<EnvelopeHeader, 'chain' | 'origin'>): void {
  const { chain } = header;
  const formats = new Set<string>([chain[0]!.from]);
  const finished = new Set<string>();
  for (let i = 0; i < chain.length; i++) {
    const step = chain[i]!;
    if (i > 0 && chain[i - 1]!.to !== step.from)
      throw new InvalidEnvelopeError(`step ${i} starts at ${step.from}, not where step ${i - 1} ended`);
    if (formats.has(step.to)) throw new RouteLoopError(`the chain visits ${step.to} twice`);
    formats.add(step.to);
    const before = gatewayBefore(header, i);
    if (before !== step.gateway) {
      finished.add(before);
      if (finished.has(step.gateway))
        throw new RouteLoopError(`the chain comes back to gateway ${step.gateway.slice(0, 12)}…`);
    }
  }
}

/** The transfers a chain takes from step `at` on, counting the one into step `at` when it changes gateway. */
export function transfersFrom(header: Pick<EnvelopeHeader, 'chain' | 'origin'>, at: number): number {
  let n = 0;
  for (let i = at; i < header.chain.length; i++)
    if (header.chain[i]!.gateway !== gatewayBefore(header, i)) n++;
  return n;
}

/**
 * The checks every hop makes before it touches a routed event (docs/ARCHITECTURE.md "Capability
 * routing", who may say what): the origin's signature, its age, the chain's structure, that this
 * gateway is the next step and performs it, that the hop limit has not run out, and that the link's
 * gateway is the previous step's. Each failure is its own typed error. (The same envelope again is
 * answered with its first outcome: `SeenEnvelopes`, once it passed these.)
 */
export function checkHop(header: EnvelopeHeader, ctx: HopContext): HopPlan {
  if (!envelopeSignatureValid(header))
    throw new ForgedEnvelopeError(
      `the envelope's signature does not verify for its origin ${header.origin.slice(0, 12)}…`,
    );
  if (header.issuedAt > ctx.now + ctx.maxSkew)
    throw new StaleEnvelopeError(`the envelope is dated ${header.issuedAt - ctx.now} ms ahead`);
  if (ctx.now - header.issuedAt > ctx.maxAge)
    throw new StaleEnvelopeError(
      `the envelope was signed ${ctx.now - header.issuedAt} ms ago (limit ${ctx.maxAge} ms)`,
    );
  checkChain(header);
  const { chain, next } = header;
  if (header.hops === 0) throw new HopLimitError('the envelope arrived with no hops left');
  if (header.hops > header.hopLimit)
    throw new HopLimitError(
      `the envelope claims ${header.hops} hops left, over its signed limit of ${header.hopLimit}`,
    );
  if (next >= chain.length)
    throw new NotNextHopError(`step ${next} is past the end of a chain of ${chain.length}`);
  const step = chain[next]!;
  if (step.gateway !== ctx.self)
    throw new NotNextHopError(
      `step ${next} (${edgeName(step.from, step.to)}) is gateway ${step.gateway.slice(0, 12)}…'s`,
    );
  const previous = gatewayBefore(header, next);
  if (previous === ctx.self)
    throw new NotNextHopError(
      `the event was with this gateway before step ${next}: it should not have left it`,
    );
  if (previous !== ctx.sender)
    throw new WrongPreviousHopError(
      `the envelope came from ${ctx.sender.slice(0, 12)}…, not from ${previous.slice(0, 12)}…, whose step precedes step ${next}`,
    );
  // What is left needs this transfer and those after it: more than the hops left cannot arrive.
  const needed = transfersFrom(header, next);
  if (needed > header.hops)
    throw new HopLimitError(`the rest of the chain takes ${needed} transfers, ${header.hops} left`);
  let after = next;
  const mine: EnvelopeStep[] = [];
  while (after < chain.length && chain[after]!.gateway === ctx.self) {
    const s = chain[after]!;
    if (!ctx.performs(s.from, s.to))
      throw new NotNextHopError(`this gateway does not perform ${edgeName(s.from, s.to)}`);
    mine.push(s);
    after++;
  }
  return { mine, after, next: chain[after] };
}
