import { arbEvent, arbEventOfKind } from '@crosstalk/compliance';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CanonicalEvent,
  EVENT_KINDS,
  eventFromJson,
  eventToJson,
  featureSet,
  featuresOf,
  isCrossTalkError,
  parseAddress,
  subtractFeatures,
  validateEvent,
} from '../src/index.js';

const a = parseAddress;

describe('canonical model', () => {
  for (const kind of EVENT_KINDS) {
    it(`${kind}: object -> JSON text -> object is the identity`, () => {
      fc.assert(
        fc.property(arbEventOfKind[kind] as fc.Arbitrary<CanonicalEvent>, (event) => {
          const text = JSON.stringify(eventToJson(event));
          expect(eventFromJson(JSON.parse(text))).toEqual(event);
        }),
        { numRuns: 200 },
      );
    });
  }

  it('writes addresses as user@network strings in JSON', () => {
    const json = eventToJson({
      kind: 'im',
      id: 'm1',
      from: a('alice@aol'),
      to: a('a@hotmail.com@msn'),
      text: 'hi',
      sentAt: 0,
    });
    expect(json).toEqual({
      kind: 'im',
      id: 'm1',
      from: 'alice@aol',
      to: 'a@hotmail.com@msn',
      text: 'hi',
      sentAt: 0,
    });
  });

  it('rejects invalid JSON with a typed error naming the field', () => {
    const bad = [
      [{ kind: 'im', id: 'x', from: 'alice', to: 'bob@yahoo', text: '', sentAt: 0 }, 'from'],
      [{ kind: 'im', id: 'x', from: 'alice@aol', to: 'bob@yahoo', sentAt: 0 }, 'text'],
      [{ kind: 'typing', from: 'alice@aol', to: 'bob@yahoo', state: 'thinking' }, 'state'],
      [{ kind: 'presence', from: 'alice@aol', status: 'online', idleSince: -1 }, 'idleSince'],
      [{ kind: 'teleport', from: 'alice@aol' }, 'kind'],
      [
        { kind: 'im', id: 'x', from: 'alice@aol', to: 'bob@yahoo', text: 'x'.repeat(70_000), sentAt: 0 },
        'text',
      ],
    ] as const;
    for (const [json, field] of bad) {
      try {
        eventFromJson(json);
        expect.unreachable(`accepted ${JSON.stringify(json).slice(0, 80)}`);
      } catch (error) {
        expect(isCrossTalkError(error, 'ERR_INVALID_EVENT')).toBe(true);
        expect((error as Error).message).toContain(field);
      }
    }
  });

  it('validateEvent accepts every valid in-memory event and rejects a broken one', () => {
    fc.assert(
      fc.property(arbEvent, (event) => void validateEvent(event)),
      { numRuns: 200 },
    );
    expect(() => validateEvent({ kind: 'im', from: 'not an object' })).toThrow(/invalid|cannot/);
  });
});

describe('feature subtraction', () => {
  const im: CanonicalEvent = {
    kind: 'im',
    id: '1',
    from: a('alice@aol'),
    to: a('bob@yahoo'),
    text: 'hi',
    html: '<b>hi</b>',
    sentAt: 1,
  };

  it('names the features an event uses', () => {
    expect(featuresOf(im)).toEqual(['im', 'im.html']);
    expect(featuresOf({ kind: 'presence', from: a('bob@yahoo'), status: 'busy', text: 'brb' })).toEqual([
      'presence',
      'presence.text',
      'presence.busy',
    ]);
  });

  it('strips what the target cannot carry and reports it', () => {
    const { event, lost } = subtractFeatures(im, featureSet('im'));
    expect(lost).toEqual(['im.html']);
    expect(event).toEqual({ kind: 'im', id: '1', from: im.from, to: im.to, text: 'hi', sentAt: 1 });
  });

  it('drops an event whose kind the target lacks, reporting all of it', () => {
    expect(subtractFeatures(im, featureSet('presence'))).toEqual({
      event: undefined,
      lost: ['im', 'im.html'],
    });
  });

  it('maps busy and idle to away when the target lacks them, keeping text where it can', () => {
    const { event, lost } = subtractFeatures(
      { kind: 'presence', from: a('bob@yahoo'), status: 'busy', text: 'meeting', idleSince: 5 },
      featureSet('presence', 'presence.text'),
    );
    expect(lost).toEqual(['presence.idle', 'presence.busy']);
    expect(event).toEqual({ kind: 'presence', from: a('bob@yahoo'), status: 'away', text: 'meeting' });
  });

  it('never adds features: the result uses a subset of the supported ones', () => {
    fc.assert(
      fc.property(
        arbEvent,
        fc.subarray([
          'im',
          'im.html',
          'typing',
          'presence',
          'presence.text',
          'roster',
          'roster.groups',
        ] as const),
        (event, supported) => {
          const set = featureSet(...supported);
          const { event: reduced, lost } = subtractFeatures(event, set);
          const used = featuresOf(event);
          for (const f of lost) expect(used).toContain(f);
          if (reduced) {
            for (const f of featuresOf(reduced)) expect(set.has(f)).toBe(true);
            for (const f of lost) expect(set.has(f)).toBe(false);
          } else {
            expect(set.has(used[0]!)).toBe(false); // only a missing base kind drops the whole event
            expect(lost).toEqual(used);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('addresses in events', () => {
  it('an event with a missing address is a typed error, not a TypeError', () => {
    const broken = { kind: 'typing', from: undefined, to: parseAddress('bob@yahoo'), state: 'composing' };
    expect(() => eventToJson(broken as never)).toThrow(/invalid|cannot|expected/);
    try {
      eventToJson(broken as never);
    } catch (error) {
      expect(isCrossTalkError(error)).toBe(true);
    }
  });
});
