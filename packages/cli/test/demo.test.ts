import { describe, expect, it } from 'vitest';
import { runDemo } from '../src/demo/demo.js';
import { startMsnpNetwork, startOscarNetwork, startYmsgNetwork } from '../src/drivers/index.js';

describe('crosstalk demo', () => {
  it('runs gateways, servers and scripted users of three networks and prints what they saw', async () => {
    const lines: string[] = [];
    await runDemo({
      networks: [
        { label: 'AIM', start: startOscarNetwork, user: { name: 'alice', password: 'alicepw' } },
        { label: 'Yahoo', start: startYmsgNetwork, user: { name: 'bob', password: 'bobpw' } },
        { label: 'MSN', start: startMsnpNetwork, user: { name: 'carol@hotmail.com', password: 'carolpw' } },
      ],
      out: (line) => lines.push(line),
    });
    const text = lines.join('\n');
    expect(text).toMatch(/alice@aol \(AIM\) adds bob@yahoo/);
    expect(text).toMatch(/sees a buddy request from .* \(it waited while they were offline\)/);
    expect(text).toMatch(/got: "héllo .*wörld ✓/);
    expect(text).toMatch(/got: "こんにちは .*👋"/);
    expect(text).toMatch(/sees .* away/);
    expect(text).toMatch(/buddy list still shows/);
    expect(text).not.toMatch(/LOST/);
    expect(text).toMatch(/\[gateway AIM\] im alice@aol -> bob@yahoo: oscar -> ymsg/);
    expect(text).toMatch(/Done: 3 networks, 3 gateways/);

    // In causal order: the gateway line that carried a message comes before the line saying it
    // arrived, and each presence change is shown before it is seen.
    const at = (pattern: RegExp) => {
      const i = lines.findIndex((l) => pattern.test(l));
      expect(i, `no line matches ${pattern}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    for (const [from, to, gateway, got] of [
      ['alice@aol', 'bob@yahoo', 'AIM', /bob@yahoo \(Yahoo\) got: "héllo/],
      ['bob@yahoo', 'alice@aol', 'Yahoo', /alice@aol \(AIM\) got: "こんにちは/],
      ['bob@yahoo', 'carol@hotmail.com@msn', 'Yahoo', /carol@hotmail.com@msn \(MSN\) got: "héllo/],
    ] as const) {
      expect(at(new RegExp(`\\[gateway ${gateway}\\] im ${from} -> ${to}:`))).toBeLessThan(at(got));
    }
    expect(at(/\[gateway AIM\] typing alice@aol -> bob@yahoo/)).toBeLessThan(
      at(/bob@yahoo \(Yahoo\) sees alice@aol composing/),
    );
    const goesAway = at(/bob@yahoo \(Yahoo\) goes away/);
    const seenAway = at(/alice@aol \(AIM\) sees bob@yahoo away/);
    const isBack = at(/bob@yahoo \(Yahoo\) is back/);
    const seenBack = at(/alice@aol \(AIM\) sees bob@yahoo online again/);
    expect([goesAway < seenAway, seenAway < isBack, isBack < seenBack]).toEqual([true, true, true]);
    const carriedPresence = lines
      .map((l, i) => (/\[gateway Yahoo\] presence bob@yahoo -> alice@aol/.test(l) ? i : -1))
      .filter((i) => i >= 0);
    expect(carriedPresence.some((i) => goesAway < i && i < seenAway)).toBe(true);
    expect(carriedPresence.some((i) => isBack < i && i < seenBack)).toBe(true);
  }, 60_000);
});
