import { describe, expect, it } from 'vitest';
import { KeyedSerial } from '../src/serial/keyed-serial.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('KeyedSerial', () => {
  it('runs one key’s tasks in the order asked, others alongside, and a failure does not stop the next', async () => {
    const serial = new KeyedSerial();
    const log: string[] = [];
    const task =
      (name: string, fail = false) =>
      async () => {
        log.push(`${name} start`);
        await tick();
        log.push(`${name} end`);
        if (fail) throw new Error(name);
        return name;
      };
    const a1 = serial.run('a', task('a1', true));
    const a2 = serial.run('a', task('a2'));
    const b1 = serial.run('b', task('b1'));
    await expect(a1).rejects.toThrow('a1');
    expect(await a2).toBe('a2');
    expect(await b1).toBe('b1');
    // a2 waited for a1; b1 did not wait for either.
    expect(log.indexOf('a2 start')).toBeGreaterThan(log.indexOf('a1 end'));
    expect(log.indexOf('b1 start')).toBeLessThan(log.indexOf('a1 end'));
    await tick();
    expect(serial.size).toBe(0);
  });
});
