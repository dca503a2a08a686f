import { startMsnpNetwork, startOscarNetwork, startXmppNetwork, startYmsgNetwork } from '../drivers/index.js';
import type { DemoNetwork } from './demo.js';

/** One scripted user per network for the demo; XMPP needs prosody installed (`.ci/run` installs it). */
export function demoNetworks(): DemoNetwork[] {
  return [
    { label: 'AIM', start: startOscarNetwork, user: { name: 'alice', password: 'alicepw' } },
    { label: 'Yahoo', start: startYmsgNetwork, user: { name: 'bob', password: 'bobpw' } },
    { label: 'MSN', start: startMsnpNetwork, user: { name: 'carol@hotmail.com', password: 'carolpw' } },
    { label: 'XMPP', start: startXmppNetwork, user: { name: 'dave', password: 'davepw' } },
  ];
}
