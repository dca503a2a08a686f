import { describe, expect, it } from 'vitest';
import { OperationQueue } from '../src/store/operation-queue.js';

/** A task that runs until released, noting when it started. */
function held(started: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    task: async () => {
      started.push(name);
      await done;
      return name;
    },
    release: () => release(),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('OperationQueue', () => {
  it('refuses a limit that is not a whole number of at least 1', () => {
    expect(() => new OperationQueue(0)).toThrow(RangeError);
    expect(() => new OperationQueue(1.5)).toThrow(RangeError);
  });

  it('runs at most its limit at once, the rest in order, urgent ones ahead of the others', async () => {
    const queue = new OperationQueue(1);
    const started: string[] = [];
    const tasks = Object.fromEntries(['a', 'b', 'c', 'u1', 'u2'].map((n) => [n, held(started, n)]));
    const outcomes = [
      queue.run(tasks.a!.task),
      queue.run(tasks.b!.task),
      queue.run(tasks.c!.task),
      queue.run(tasks.u1!.task, true),
      queue.run(tasks.u2!.task, true),
    ];
    await settle();
    expect(started).toEqual(['a']);
    expect(queue.waiting).toBe(4);
    for (const name of ['a', 'u1', 'u2', 'b']) {
      tasks[name]!.release();
      await settle();
    }
    expect(started).toEqual(['a', 'u1', 'u2', 'b', 'c']);
    tasks.c!.release();
    expect(await Promise.all(outcomes)).toEqual(['a', 'b', 'c', 'u1', 'u2']);
    expect(queue.waiting).toBe(0);
  });

  it('hands a finished place to the next waiting task, so no newcomer slips past the limit', async () => {
    const queue = new OperationQueue(2);
    let running = 0;
    let most = 0;
    const task = async () => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, 1));
      running--;
    };
    // Newcomers arrive while places are being handed on.
    const all: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      all.push(queue.run(task, i % 3 === 0));
      if (i % 5 === 0) await settle();
    }
    await Promise.all(all);
    expect(most).toBe(2);
  });

  it('frees the place of a task that failed', async () => {
    const queue = new OperationQueue(1);
    await expect(queue.run(async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(await queue.run(async () => 'next')).toBe('next');
  });
});
