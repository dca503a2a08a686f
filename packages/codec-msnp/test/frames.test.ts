import { bytesEqual, type Direction } from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  argValue,
  CommandFramer,
  command,
  decodeFrame,
  encodeArg,
  encodeFrame,
  frameFromJson,
  frameToJson,
  type MsnpFrame,
} from '../src/index.js';
import { referenceGoldens } from './fixtures/reference-goldens.js';
import { TRANSCRIPTS, transcriptGoldens } from './transcripts.js';

const enc = new TextEncoder();
const decode = (s: string, direction: Direction) => decodeFrame(enc.encode(s), direction);

describe('frame codec', () => {
  it('reads transaction ids where the verb has one in that direction', () => {
    expect(decode('MSG 3 A 2\r\nhi', 'client')).toMatchObject({ verb: 'MSG', trid: 3, args: ['A'] });
    expect(decode('MSG bob@example.com Bob 2\r\nhi', 'server')).toMatchObject({
      verb: 'MSG',
      args: ['bob@example.com', 'Bob'],
    });
    // Numeric first arguments that are not transaction ids (MSNP wiki: RNG, QNG; MSNP8 LSG/LST/GTC).
    expect(
      decode('RNG 11752013 127.0.0.1:1864 CKI 123456 bob@passport.com Bob\r\n', 'server'),
    ).not.toHaveProperty('trid');
    expect(decode('QNG 60\r\n', 'server')).toEqual({ type: 'command', verb: 'QNG', args: ['60'] });
    expect(decode('LSG 0 Other%20Contacts 0\r\n', 'server')).not.toHaveProperty('trid');
    expect(decode('LST 5 FL 1 1 1 alice@example.com Alice 0\r\n', 'server')).toMatchObject({
      trid: 5,
      args: ['FL', '1', '1', '1', 'alice@example.com', 'Alice', '0'],
    });
    expect(decode('LSG 5 1 1 1 0 Other%20Contacts 0\r\n', 'server')).toMatchObject({ trid: 5 });
    expect(decode('GTC A\r\n', 'server')).not.toHaveProperty('trid');
    expect(decode('GTC 5 1 A\r\n', 'server')).toMatchObject({ trid: 5, args: ['1', 'A'] });
    expect(decode('ADD 0 RL alice@example.com Alice\r\n', 'server')).toMatchObject({
      trid: 0,
      args: ['RL', 'alice@example.com', 'Alice'],
    });
    // A non-canonical number is an argument, so it re-encodes as written.
    expect(decode('CHG 06 NLN\r\n', 'client')).toEqual({ type: 'command', verb: 'CHG', args: ['06', 'NLN'] });
  });

  it('reads numeric error replies', () => {
    expect(decode('911 4\r\n', 'server')).toEqual({ type: 'error', code: 911, trid: 4, args: [] });
    expect(decode('540 2\r\n', 'server')).toEqual({ type: 'error', code: 540, trid: 2, args: [] });
  });

  it('keeps what it cannot re-spell as raw bytes', () => {
    for (const line of ['\r\n', 'hello world\r\n', 'VER\t1\r\n', 'msg 1 A 0\r\n', 'VER 1 \xff\r\n']) {
      const raw = Uint8Array.from(line, (c) => c.charCodeAt(0));
      const frame = decodeFrame(raw, 'client');
      expect(frame.type).toBe('raw');
      expect(encodeFrame(frame)).toEqual(raw);
    }
    // A length spelled with a leading zero frames, but would not re-encode the same: raw.
    const odd = enc.encode('MSG 1 A 02\r\nhi');
    expect(decodeFrame(odd, 'client').type).toBe('raw');
  });

  it('decodes every golden command as a command, never as raw', () => {
    const goldens = [...TRANSCRIPTS.flatMap(transcriptGoldens), ...referenceGoldens()];
    let count = 0;
    for (const g of goldens) {
      const framer = new CommandFramer(g.direction);
      for (const raw of framer.push(g.bytes)) {
        const frame = decodeFrame(raw, g.direction);
        expect(frame.type, `${g.name}: ${new TextDecoder().decode(raw)}`).not.toBe('raw');
        expect(bytesEqual(encodeFrame(frame), raw)).toBe(true);
        count++;
      }
      framer.end();
    }
    expect(count).toBeGreaterThan(500);
  });

  it('writes payload text readably in JSON and reads it back', () => {
    const frame = decode(
      'UBX bob@example.com 53\r\n<Data><PSM></PSM><CurrentMedia></CurrentMedia></Data>',
      'server',
    );
    const json = JSON.parse(JSON.stringify(frameToJson(frame)));
    expect(json).toEqual({
      type: 'command',
      verb: 'UBX',
      args: ['bob@example.com'],
      payloadText: '<Data><PSM></PSM><CurrentMedia></CurrentMedia></Data>',
    });
    expect(encodeFrame(frameFromJson(json))).toEqual(encodeFrame(frame));
    // Bytes that are not UTF-8 travel as hex.
    const binary: MsnpFrame = command('MSG', 1, ['D'], Uint8Array.of(0, 0xff, 0x10));
    const back = frameFromJson(JSON.parse(JSON.stringify(frameToJson(binary))));
    expect(encodeFrame(back)).toEqual(encodeFrame(binary));
  });

  it('refuses JSON that is not a frame with a typed error', () => {
    for (const bad of [
      null,
      1,
      {},
      { type: 'command', verb: 'msg' },
      { type: 'command', verb: 'MSG', args: ['a b'] },
      { type: 'error', code: 5000 },
    ]) {
      expect(() => frameFromJson(bad)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }));
    }
  });

  it('round-trips any command it builds', () => {
    const token = fc.stringMatching(/^[!-~]{1,12}$/);
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Z]{3}$/),
        fc.option(fc.nat({ max: 0xffff_ffff }), { nil: undefined }),
        fc.array(token, { maxLength: 5 }),
        fc.boolean(),
        (verb, trid, args, lf) => {
          // Payload verbs need a payload and a trid-less client line a non-numeric first argument.
          fc.pre(!['MSG', 'QRY', 'UUX', 'ADL', 'RML', 'FQY', 'UUN'].includes(verb));
          fc.pre(trid !== undefined || args.length === 0 || !/^(0|[1-9]\d*)$/.test(args[0]!));
          const frame = { ...command(verb, trid, args), ...(lf ? { lf: true as const } : {}) };
          expect(decodeFrame(encodeFrame(frame), 'client')).toEqual(frame);
        },
      ),
    );
  });
});

describe('argument spelling', () => {
  it('URL-decodes arguments and keeps malformed escapes', () => {
    expect(argValue('Other%20Contacts')).toBe('Other Contacts');
    expect(argValue('Alic%C3%A9')).toBe('Alicé');
    expect(argValue('100%')).toBe('100%');
    expect(argValue('%3Cmsnobj%2F%3E')).toBe('<msnobj/>');
  });

  it('encodes spaces, percent signs, controls and non-ASCII only', () => {
    expect(encodeArg('bob@example.com')).toBe('bob@example.com');
    expect(encodeArg('Bob Smith 100%')).toBe('Bob%20Smith%20100%25');
    expect(encodeArg('Zoë')).toBe('Zo%C3%AB');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(argValue(encodeArg(s))).toBe(s);
      }),
    );
  });
});
