import { EventEmitter, once } from 'node:events';
import { isCrossTalkError } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { FlowControlledStream, WINDOW } from '../src/transport/flow-control.js';

/** A stand-in for a hyperdht socket: what one side writes, the other receives as 'data'. */
class Wire extends EventEmitter {
  peer: Wire | undefined;
  destroyed = false;
  readonly remotePublicKey = Buffer.alloc(32);
  readonly publicKey = Buffer.alloc(32);
  write(data: Uint8Array): boolean {
    const copy = Buffer.from(data);
    queueMicrotask(() => this.peer?.emit('data', copy));
    return true;
  }
  end(): void {
    queueMicrotask(() => this.peer?.emit('end'));
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
    this.peer?.destroy();
  }
  pause(): void {}
  resume(): void {}
}

function pair(): [Wire, Wire] {
  const a = new Wire();
  const b = new Wire();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

describe('FlowControlledStream', () => {
  it('a reader that stops reading stops the writer within one window; reading again lets it finish', async () => {
    const [a, b] = pair();
    const writer = new FlowControlledStream(a as never);
    const reader = new FlowControlledStream(b as never);
    let accepted = 0;
    while (writer.write(Buffer.alloc(16 * 1024)) && accepted < 100 * WINDOW) accepted += 16 * 1024;
    await new Promise((r) => setTimeout(r, 50));
    expect(accepted).toBeLessThan(2 * WINDOW);
    expect(reader.readableLength).toBeLessThanOrEqual(WINDOW + 64 * 1024);
    let got = 0;
    reader.on('data', (d: Buffer) => {
      got += d.length;
    });
    await once(writer, 'drain');
    expect(got).toBeGreaterThan(accepted);
  });

  it('a peer that sends more than it was granted is refused with a typed error', async () => {
    const [a, b] = pair();
    const victim = new FlowControlledStream(b as never);
    victim.on('data', () => {});
    victim.pause();
    const failed = once(victim, 'error');
    // Raw DATA frames straight onto the wire, ignoring credit: a window and one more frame.
    for (let sent = 0; sent <= WINDOW; sent += 64 * 1024) {
      const frame = Buffer.alloc(5 + 64 * 1024);
      frame.writeUInt32BE(64 * 1024, 1);
      a.write(frame);
    }
    const [error] = await failed;
    expect(isCrossTalkError(error, 'ERR_G2G_FLOW_CONTROL')).toBe(true);
  });

  it('a malformed frame is refused with a typed error', async () => {
    const [a, b] = pair();
    const victim = new FlowControlledStream(b as never);
    const failed = once(victim, 'error');
    a.write(Buffer.from([9, 0, 0, 0, 1, 0]));
    const [error] = await failed;
    expect(isCrossTalkError(error, 'ERR_G2G_FLOW_CONTROL')).toBe(true);
  });
});
