import { describe, expect, it } from 'vitest';
import { Population } from '../population.js';
import { Rng } from '../rng.js';

describe('Population', () => {
  const options = { users: 20_000, gateways: 100, meanBuddies: 50, sigma: 1, maxBuddies: 600 };

  it('draws mutual buddy lists with the asked mean size, none with the user itself', () => {
    const pop = new Population({ ...options, rng: new Rng(2) });
    expect(pop.meanListSize).toBeGreaterThan(45);
    expect(pop.meanListSize).toBeLessThan(55);
    for (let u = 0; u < 500; u++) {
      const list = pop.buddiesOf(u);
      expect(list.includes(u)).toBe(false);
      expect(new Set(list).size).toBe(list.length);
      for (const b of list) expect(pop.buddiesOf(b).includes(u)).toBe(true);
    }
  });

  it('puts the local share of each list in the cluster of gateways of the user', () => {
    const share = (locality: number) => {
      const pop = new Population({ ...options, locality, clusterGateways: 10, rng: new Rng(4) });
      const cluster = (u: number) => Math.floor(pop.gatewayOf(u) / 10);
      let inside = 0;
      for (let u = 0; u < options.users; u++)
        for (const b of pop.buddiesOf(u)) if (cluster(b) === cluster(u)) inside++;
      return inside / pop.buddies.length;
    };
    // Without locality a tenth of the clusters' users is the own cluster's: about 10%.
    expect(share(0)).toBeCloseTo(0.1, 1);
    expect(share(0.5)).toBeCloseTo(0.55, 1);
  });
});
