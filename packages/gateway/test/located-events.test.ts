import { type Address, addressKey, type CanonicalEvent, MemoryDht, parseAddress } from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecord, signRecord } from '../src/directory/records.js';
import { G2gType } from '../src/g2g/wire.js';
import {
  type CrossTalkNode,
  createNode,
  Directory,
  G2gNode,
  type GatewayIdentity,
  generateIdentity,
  jsonForm,
  TcpG2gTransport,
  type UserSession,
} from '../src/index.js';
import { EndpointInbox } from '../src/testing/index.js';
import { dhtView } from './support/dht-view.js';

/** A rogue gateway: a G2G node on a key of its own, listening. */
async function startRogue(identity: GatewayIdentity): Promise<G2gNode> {
  const rogue = new G2gNode({ transport: new TcpG2gTransport({ identity }), onEvent: async () => 'x' });
  await rogue.listen();
  return rogue;
}

/** A location record for `user` signed by `by`, naming `rogue`'s contact, as a LOCATED frame carries it. */
function record(
  by: GatewayIdentity,
  rogue: G2gNode,
  user: Address,
  fields: { issuedAt?: number; ttl?: number } = {},
): Uint8Array {
  return encodeRecord(
    signRecord(by, {
      kind: 'location',
      subject: addressKey(user),
      body: { contact: rogue.contact, g2g: 2 },
      issuedAt: fields.issuedAt ?? Date.now(),
      ttl: fields.ttl ?? 60_000,
    }),
  );
}

/**
 * Who may say what with a LOCATED frame (an event with its sender's location record): node one
 * serves alice, amy and ann, node two serves bob. A rogue gateway X, with a key of its own, links
 * to node two and sends IMs "from" node one's users, each with a record attached. A record is
 * believed only as one the link's gateway signed about the sender, valid, where node two knows no
 * location for the sender, and the directory has the last word.
 */
describe('an event with its sender’s location record attached', () => {
  const dht = new MemoryDht();
  const alice = parseAddress('alice@aol');
  const amy = parseAddress('amy@aol');
  const ann = parseAddress('ann@aol');
  const zed = parseAddress('zed@aol');
  const bob = parseAddress('bob@yahoo');
  const x = generateIdentity();
  // Node two never finds alice's location in the directory (a DHT behind her login): only the
  // record node one attaches can say where she is.
  const behind = dhtView(dht, async (key, get) => (key === Directory.locationKey(alice) ? [] : get()));
  const atBob = new EndpointInbox();
  let one: CrossTalkNode;
  let two: CrossTalkNode;
  let rogue: G2gNode;
  let aliceSession: UserSession;

  beforeAll(async () => {
    one = await createNode({ dht, logger: false });
    two = await createNode({ dht: behind, logger: false });
    aliceSession = await one.attach(alice, new EndpointInbox(), { protocol: 'api' });
    for (const user of [amy, ann]) await one.attach(user, new EndpointInbox(), { protocol: 'api' });
    await two.attach(bob, atBob, { protocol: 'api' });
    rogue = await startRogue(x);
  });
  afterAll(async () => {
    await rogue?.close();
    await one?.close();
    await two?.close();
  });

  const forged = (from: Address, id: string) =>
    jsonForm.encode({ kind: 'im', id, from, to: bob, text: `forged ${id}`, sentAt: Date.now() });
  /** The rogue sends node two an IM from `from` with `located` attached: the refusal code, or the ACK. */
  const send = (from: Address, id: string, located: Uint8Array) =>
    rogue
      .send({ id: two.id, contact: two.contact }, forged(from, id), G2gType.event, located)
      .catch((e: { refusal?: string }) => e.refusal ?? String(e));
  const rejected = async () => Number((await two.metrics.rejectedRecords.get()).values[0]?.value ?? 0);
  const shown = (id: string) => atBob.events.some((e: CanonicalEvent) => e.kind === 'im' && e.id === id);

  it('node one attaches its record: node two checks the sender by it, though its directory has none yet', async () => {
    expect(
      await aliceSession.send({ kind: 'im', id: 'real-1', to: bob, text: 'hi', sentAt: Date.now() }),
    ).toBe('delivered');
    expect(shown('real-1')).toBe(true);
  });

  it('a genuine record of another gateway, attached by the rogue: rejected, the IM refused as spoofed', async () => {
    const [genuine] = await dht.get(Directory.locationKey(amy));
    const before = await rejected();
    expect(await send(amy, 'x-copied', genuine!)).toBe('ERR_SPOOFED_EVENT');
    expect(await rejected()).toBe(before + 1);
    expect(shown('x-copied')).toBe(false);
  });

  // Senders online nowhere from here on, unless a test says otherwise: node two has no location for
  // them, so it reads the record attached (a known location leaves the check to the directory).
  const nobody = (n: number) => parseAddress(`nobody${n}@aol`);

  it('the rogue’s own record about another user than the sender: rejected, refused', async () => {
    const before = await rejected();
    expect(await send(nobody(1), 'x-other', record(x, rogue, zed))).toBe('ERR_SPOOFED_EVENT');
    expect(await rejected()).toBe(before + 1);
    expect(shown('x-other')).toBe(false);
  });

  it('a tampered record, an expired one and one dated too far ahead: each rejected, each IM refused', async () => {
    const sender = nobody(2);
    const good = JSON.parse(Buffer.from(record(x, rogue, sender)).toString());
    const tampered = Buffer.from(JSON.stringify({ ...good, expiresAt: good.expiresAt + 1 }));
    const expired = record(x, rogue, sender, { issuedAt: Date.now() - 120_000 });
    const ahead = record(x, rogue, sender, { issuedAt: Date.now() + 60 * 60_000 });
    for (const [id, located] of [
      ['x-tampered', tampered],
      ['x-expired', expired],
      ['x-ahead', ahead],
    ] as const) {
      const before = await rejected();
      expect(await send(sender, id, located)).toBe('ERR_SPOOFED_EVENT');
      expect(await rejected()).toBe(before + 1);
      expect(shown(id)).toBe(false);
    }
  });

  it('the rogue’s valid record for a sender node two knows elsewhere: the directory decides, refused', async () => {
    // Node two has alice's location from node one (the first test).
    expect(await send(alice, 'x-known', record(x, rogue, alice))).toBe('ERR_SPOOFED_EVENT');
    expect(shown('x-known')).toBe(false);
  });

  it('for a sender node two knows nothing of, believed until the directory answers; then the rogue is not', async () => {
    // The contest ARCHITECTURE.md describes for an open directory: a gateway may say it serves
    // ann (it could publish that). The directory, asked at once, names node one: the rogue's next
    // events are refused, and its attachments are no longer believed for other senders either.
    await send(ann, 'x-first', record(x, rogue, ann));
    const directoryAnswered = () =>
      send(ann, 'x-probe', record(x, rogue, ann)).then((r) => r === 'ERR_SPOOFED_EVENT');
    for (let i = 0; i < 50 && !(await directoryAnswered()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await send(ann, 'x-after', record(x, rogue, ann))).toBe('ERR_SPOOFED_EVENT');
    expect(shown('x-after')).toBe(false);
    // Distrusted: a record for zed (whom the directory does not know) is not believed now.
    expect(await send(zed, 'x-zed', record(x, rogue, zed))).toBe('ERR_SPOOFED_EVENT');
    expect(shown('x-zed')).toBe(false);
  });
});

/**
 * A closed federation (`trustedGateways`): a record from a gateway not on the list is not
 * believed, whatever it says, and the event is refused.
 */
describe('an attached record in a closed federation', () => {
  const dht = new MemoryDht();
  const bob = parseAddress('bob@yahoo');
  const zed = parseAddress('zed@aol');
  const x = generateIdentity();
  let two: CrossTalkNode;
  let rogue: G2gNode;

  beforeAll(async () => {
    two = await createNode({ dht, logger: false, trustedGateways: [] });
    await two.attach(bob, new EndpointInbox(), { protocol: 'api' });
    rogue = await startRogue(x);
  });
  afterAll(async () => {
    await rogue?.close();
    await two?.close();
  });

  it('a record from a gateway not trusted: refused, as unauthorised', async () => {
    const located = record(x, rogue, zed);
    const payload = jsonForm.encode({
      kind: 'im',
      id: 'z',
      from: zed,
      to: bob,
      text: 'hi',
      sentAt: Date.now(),
    });
    const refusal = await rogue
      .send({ id: two.id, contact: two.contact }, payload, G2gType.event, located)
      .catch((e: { refusal?: string }) => e.refusal);
    expect(refusal).toBe('ERR_SPOOFED_EVENT');
    const unauthorised = (await two.metrics.refused.get()).values.find(
      (v) => v.labels.reason === 'ERR_UNAUTHORISED_RECORD',
    );
    expect(unauthorised?.value).toBe(1);
  });
});
