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
  }, 60_000);
});
