import { ALL_FEATURES, type Codec, type Feature, type G2gContact, isFeature } from '@crosstalk/core';
import { z } from 'zod';
import { ContactSchema } from '../directory/contact.js';
import { canonicalFormat, FORMAT_PATTERN } from './formats.js';

/**
 * What a gateway says about one translation it performs itself, the body of its signed
 * `cap:<from>><to>` record. There is no field naming who performs it: the signer does
 * ("capabilities only about the publisher itself"), and a body naming anyone is refused.
 */
export const CapabilityBodySchema = z
  .object({
    /** What the translation costs (composition picks the cheapest chain); finite, non-negative. */
    cost: z.number().finite().nonnegative().max(1_000_000),
    /** Features carried across unchanged. Names this gateway does not know are kept out of routing. */
    preserves: z.array(z.string().min(1).max(64)).max(64),
    /** For an edge into a client protocol: the networks whose users it delivers to. */
    networks: z.array(z.string().min(1).max(64)).max(16).optional(),
    /** How to reach the publisher over G2G (a gateway that serves no user has no location record). */
    contact: ContactSchema,
  })
  .strict();

/** The body of a capability record, as published and as read. */
export type CapabilityBody = z.infer<typeof CapabilityBodySchema>;

/** The body of a `cap:<from>>*` record: the formats its publisher translates `from` into. */
export const CapabilityIndexBodySchema = z
  .object({ to: z.array(z.string().regex(FORMAT_PATTERN)).max(64) })
  .strict();

/** A verified `cap:<from>>*` record: what one gateway says it translates a format into. */
export interface CapabilityIndexEntry {
  /** The gateway (the record's signer). */
  gateway: string;
  /** The formats it translates into. */
  to: string[];
  /** When the record lapses unless re-signed, ms since the epoch. */
  expiresAt: number;
}

/** A verified capability record: one translation one gateway performs. */
export interface CapabilityRecord {
  /** The gateway that performs it (the record's signer). */
  gateway: string;
  /** The format it translates from. */
  from: string;
  /** The format it translates to. */
  to: string;
  /** Its cost. */
  cost: number;
  /** The features it carries across (known ones only). */
  preserves: Feature[];
  /** For an edge into a client protocol: the networks it delivers to. */
  networks: string[];
  /** How to reach the gateway. */
  contact: G2gContact;
  /** When the record lapses unless its gateway re-signs it, ms since the epoch. */
  expiresAt: number;
}

/** A translation this gateway performs, before it is signed and published. */
export interface OwnCapability {
  /** The format it translates from. */
  from: string;
  /** The format it translates to. */
  to: string;
  /** Its cost. */
  cost: number;
  /** The features it carries across. */
  preserves: Feature[];
  /** For an edge into a client protocol: the networks whose users it delivers to. */
  networks?: string[];
}

/** A canonical form as capabilities see it: its name and, if it carries less than everything, its features. */
export interface FormDescription {
  /** The form's name (`json`, `xmpp-stanza`). */
  readonly name: string;
  /** What the form carries; default every feature. */
  readonly features?: ReadonlySet<Feature>;
}

/**
 * The capabilities a gateway with these codecs and canonical forms performs: each codec's
 * `protocol<>canonical:<form>` pair for every form it speaks (preserving the codec's features; the
 * edge into the protocol names the networks it delivers to), and a conversion between every two
 * forms it speaks (preserving what both carry).
 */
export function ownCapabilities(
  codecs: readonly Pick<Codec, 'protocol' | 'networks' | 'features'>[],
  forms: readonly FormDescription[],
  cost = 1,
): OwnCapability[] {
  const out: OwnCapability[] = [];
  for (const form of forms) {
    const vertex = canonicalFormat(form.name);
    const carried = form.features ?? ALL_FEATURES;
    for (const codec of codecs) {
      const preserves = [...codec.features].filter((f) => carried.has(f));
      out.push({ from: codec.protocol, to: vertex, cost, preserves });
      out.push({ from: vertex, to: codec.protocol, cost, preserves, networks: [...codec.networks] });
    }
  }
  for (const a of forms)
    for (const b of forms) {
      if (a.name === b.name) continue;
      const into = b.features ?? ALL_FEATURES;
      const preserves = [...(a.features ?? ALL_FEATURES)].filter((f) => into.has(f));
      out.push({ from: canonicalFormat(a.name), to: canonicalFormat(b.name), cost, preserves });
    }
  return out;
}

/** The features of a record that this gateway knows (a newer gateway may name more). */
export function knownFeatures(names: readonly string[]): Feature[] {
  return names.filter(isFeature);
}
