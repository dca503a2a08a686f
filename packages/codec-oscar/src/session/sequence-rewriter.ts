import { withSeq } from '../flap/flap-frame.js';

/**
 * FLAP sequence numbers for one direction of one proxied connection. Every frame on every channel
 * takes the next number, mod 2^16 (PROTOCOLS.md "Seq"); a receiver may check them. The rewriter keeps
 * the offset between the sender's numbers and the ones the receiver sees: withholding a frame
 * shifts later ones down, injecting one shifts them up, so the receiver never sees a gap or a
 * repeat. Until something is withheld or injected the offset is 0 and frames keep their bytes.
 */
export class SequenceRewriter {
  #offset = 0;
  #next: number | undefined;

  /** True once a frame was withheld or injected (some later frame may need a new number). */
  get shifted(): boolean {
    return this.#offset !== 0;
  }

  /** The number the receiver expects next (undefined before the first frame). */
  get next(): number | undefined {
    return this.#next;
  }

  /** A frame passing through: its bytes, renumbered only when the offset is not zero. */
  forward(raw: Uint8Array): Uint8Array {
    const seq = (((raw[2]! << 8) | raw[3]!) + this.#offset) & 0xffff;
    this.#next = (seq + 1) & 0xffff;
    return this.#offset === 0 ? raw : withSeq(raw, seq);
  }

  /** A frame kept from the receiver: the numbers after it move down by one. */
  withhold(): void {
    this.#offset = (this.#offset - 1) & 0xffff;
  }

  /** The number for a frame the proxy adds; the sender's later frames move up by one. */
  inject(): number {
    const seq = this.#next ?? 0;
    this.#next = (seq + 1) & 0xffff;
    this.#offset = (this.#offset + 1) & 0xffff;
    return seq;
  }
}
