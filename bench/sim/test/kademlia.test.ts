import { describe, expect, it } from 'vitest';
import { KademliaNetwork } from '../kademlia.js';
import { Rng } from '../rng.js';

describe('KademliaNetwork', () => {
  const net = new KademliaNetwork({ nodes: 300, clients: 4, rng: new Rng(3) });
  const distance = (node: number, target: number) => (net.ids[node]! ^ target) >>> 0;

  it('knows the k closest nodes of a target by XOR distance', () => {
    const rng = new Rng(9);
    for (let i = 0; i < 20; i++) {
      const target = rng.u32();
      const brute = Array.from({ length: net.nodes }, (_, n) => n)
        .sort((a, b) => distance(a, target) - distance(b, target))
        .slice(0, net.k);
      expect(net.closestTo(target)).toEqual(brute);
    }
  });

  it('routes a query to the k closest nodes, asking each node at most once', () => {
    const rng = new Rng(11);
    for (let i = 0; i < 50; i++) {
      const target = rng.u32();
      const trace = net.query(i % 4, target);
      expect(new Set(trace.closest)).toEqual(new Set(net.closestTo(target)));
      expect(new Set(trace.asked).size).toBe(trace.asked.length);
      expect(trace.asked.length).toBeGreaterThanOrEqual(net.k);
    }
  });

  it('stops a first-copy read at the first holder that answers', () => {
    const rng = new Rng(12);
    const target = rng.u32();
    const holders = new Set(net.closestTo(target));
    const trace = net.query(0, target, { concurrency: 3, stopAt: (node) => holders.has(node) });
    const firstHolder = trace.asked.findIndex((node) => holders.has(node));
    expect(firstHolder).toBeGreaterThanOrEqual(0);
    // Requests already in flight when it answered (at most the concurrency) are the only ones after it.
    expect(trace.asked.length - 1 - firstHolder).toBeLessThanOrEqual(3);
  });

  it('asks more nodes per query as the network grows (log n)', () => {
    const mean = (nodes: number) => {
      const big = new KademliaNetwork({ nodes, clients: 1, rng: new Rng(5) });
      const rng = new Rng(6);
      let asked = 0;
      for (let i = 0; i < 200; i++) asked += big.query(0, rng.u32()).asked.length;
      return asked / 200;
    };
    expect(mean(2000)).toBeGreaterThan(mean(100));
  });
});
