import type { FileOfferEvent, SessionOutput } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { IbbPushes, MAX_IBB_BLOCK, MIN_IBB_BLOCK } from '../src/session/ibb-push.js';
import { CLIENT_SCOPE, NS } from '../src/stanza/namespaces.js';
import { element, type XmlElement } from '../src/xml/node.js';

/** IbbPushes on its own: the gateway's side of XEP-0047 towards one client, stanza by stanza. */

const SELF = 'bob@localhost/desk';
const offer: FileOfferEvent = {
  kind: 'file-offer',
  id: 'offer-1',
  from: { user: 'alice', network: 'aol' },
  to: { user: 'bob', network: 'localhost' },
  name: 'a.bin',
  size: 10,
};

function pushes() {
  let n = 0;
  return new IbbPushes(() => `id${n++}`);
}

const text = (out: SessionOutput) => out.toClient.map((b) => new TextDecoder().decode(b)).join('');
const idOf = (out: SessionOutput) => /id="([^"]+)"|id='([^']+)'/.exec(text(out))!.slice(1).find(Boolean)!;
const result = (id: string): XmlElement => element('iq', { type: 'result', id });
const error = (id: string, condition: string): XmlElement =>
  element('iq', { type: 'error', id }, [
    element('error', { type: 'cancel' }, [element(condition, { xmlns: NS.stanzas })]),
  ]);

describe('IbbPushes (XEP-0047, the initiator)', () => {
  it('caps the block size offered at 65535 and halves it on resource-constraint, down to the floor', () => {
    const p = pushes();
    const opened = p.open(offer, 1_000_000, SELF);
    expect(text(opened)).toContain(`block-size='${MAX_IBB_BLOCK}'`);
    let id = idOf(opened);
    let size = MAX_IBB_BLOCK;
    while (size > MIN_IBB_BLOCK) {
      const again = p.answer(id, 'error', error(id, 'resource-constraint'), CLIENT_SCOPE, SELF)!;
      size = Math.max(MIN_IBB_BLOCK, Math.floor(size / 2));
      expect(text(again)).toContain(`block-size='${size}'`);
      id = idOf(again);
    }
    const last = p.answer(id, 'error', error(id, 'resource-constraint'), CLIENT_SCOPE, SELF)!;
    expect(last.events).toEqual([
      {
        type: 'file-closed',
        offerId: 'offer-1',
        error: expect.objectContaining({ code: 'ERR_IBB_BLOCK_SIZE' }),
      },
    ]);
  });

  it('sends blocks in base64 with seq from 0, each after the answer to the one before; close ends it', () => {
    const p = pushes();
    const open = p.open(offer, 4, SELF);
    expect(text(open)).toContain(`block-size='${MIN_IBB_BLOCK}'`);
    const ready = p.answer(idOf(open), 'result', result(idOf(open)), CLIENT_SCOPE, SELF)!;
    expect(ready.events).toEqual([{ type: 'file-ready', offerId: 'offer-1', max: MIN_IBB_BLOCK }]);
    // Before the client answered, a second block is not sent.
    const first = p.block('offer-1', new Uint8Array([1, 2, 3]), SELF);
    expect(text(first)).toMatch(/seq='0'/);
    expect(text(first)).toContain('AQID');
    expect(text(p.block('offer-1', new Uint8Array([4]), SELF))).toBe('');
    p.answer(idOf(first), 'result', result(idOf(first)), CLIENT_SCOPE, SELF);
    const second = p.block('offer-1', new Uint8Array([4]), SELF);
    expect(text(second)).toMatch(/seq='1'/);
    p.answer(idOf(second), 'result', result(idOf(second)), CLIENT_SCOPE, SELF);
    const close = p.close('offer-1', SELF);
    expect(text(close)).toContain('<close');
    expect(p.answer(idOf(close), 'result', result(idOf(close)), CLIENT_SCOPE, SELF)!.events).toEqual([
      { type: 'file-closed', offerId: 'offer-1' },
    ]);
  });

  it('a block over the negotiated size is never sent: the transfer ends (IbbProtocolError) with a close', () => {
    const p = pushes();
    const open = p.open(offer, MIN_IBB_BLOCK, SELF);
    p.answer(idOf(open), 'result', result(idOf(open)), CLIENT_SCOPE, SELF);
    const out = p.block('offer-1', new Uint8Array(MIN_IBB_BLOCK + 1), SELF);
    expect(text(out)).toContain('<close');
    expect(text(out)).not.toContain('<data');
    expect(out.events).toEqual([
      {
        type: 'file-closed',
        offerId: 'offer-1',
        error: expect.objectContaining({ code: 'ERR_IBB_PROTOCOL' }),
      },
    ]);
  });

  it("the client's error on a block is IbbRefusedError; an answer nobody asked for is not ours", () => {
    const p = pushes();
    const open = p.open(offer, MIN_IBB_BLOCK, SELF);
    p.answer(idOf(open), 'result', result(idOf(open)), CLIENT_SCOPE, SELF);
    const block = p.block('offer-1', new Uint8Array([9]), SELF);
    expect(p.answer('unknown', 'result', result('unknown'), CLIENT_SCOPE, SELF)).toBeUndefined();
    const refused = p.answer(idOf(block), 'error', error(idOf(block), 'not-acceptable'), CLIENT_SCOPE, SELF)!;
    expect(refused.events[0]).toMatchObject({
      type: 'file-closed',
      error: { code: 'ERR_IBB_REFUSED', condition: 'not-acceptable', refused: 'data' },
    });
  });

  it('seq wraps to 0 after 65535 (XEP-0047 §2.2)', () => {
    const p = pushes();
    const open = p.open(offer, MIN_IBB_BLOCK, SELF);
    let id = idOf(open);
    let last = '';
    for (let i = 0; i <= 65_536; i++) {
      p.answer(id, 'result', result(id), CLIENT_SCOPE, SELF);
      const out = p.block('offer-1', new Uint8Array([1]), SELF);
      id = idOf(out);
      last = text(out);
    }
    expect(last).toMatch(/seq='0'/);
  });
});
