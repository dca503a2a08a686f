import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { oscar } from '@crosstalk/codec-oscar';
import { capturePath, readTranscript, sessionFromTranscript } from '@crosstalk/compliance/fuzz';
import { createGateway, jsonForm, socks4ConnectRequest } from '@crosstalk/gateway';
import { beforeAll, describe, expect, it } from 'vitest';
import { type FrontsReport, fuzzGatewayFronts } from './support/fuzz-fronts.js';

// A short seeded run of the gateway-front fuzzing that `npm run fuzz` runs at length: mutated
// SOCKS4/4a requests and real client traffic through the SOCKS front of a gateway with every
// codec, and mutated G2G frames (before and after an authenticated handshake) at its G2G listener,
// all over real sockets on 127.0.0.1.
const sessions = [
  sessionFromTranscript('oscar bucp', readTranscript(capturePath('transcripts/oscar_bucp_im_ras.jsonl'))),
  sessionFromTranscript('ymsg10', readTranscript(capturePath('transcripts/ymsg10_escargot.jsonl'))),
  sessionFromTranscript('msnp8', readTranscript(capturePath('transcripts/msnp8_escargot.jsonl')), (c) =>
    /^(NS|SB)\//.test(c),
  ),
];

let report: FrontsReport;
beforeAll(async () => {
  report = await fuzzGatewayFronts({ sessions, inputs: 400, seed: 20_240_611, concurrency: 8 });
}, 120_000);

describe('gateway fronts fuzz (short seeded run)', () => {
  it('keeps the gateway up and an earlier connection served; nothing untyped thrown by a session or logged', () => {
    expect(report.inputs).toBe(400);
    expect(report.socks).toBeGreaterThan(0);
    expect(report.g2g).toBeGreaterThan(0);
    expect(report.failures).toEqual([]);
  });
});

// Found by the fronts fuzzing (each failed before its fix): a session leaked when the client's FIN
// came while the upstream was dialled, and the JSON form threw untyped errors (ERR_INTERNAL).
describe('known gateway defects (found by fuzzing)', () => {
  it('closes the session of a client that sends its first bytes with the request and hangs up', async () => {
    const server = createServer((s) => {
      s.on('error', () => {});
      s.resume(); // an IM server keeps an idle connection open
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const gateway = await createGateway({ codecs: [oscar()], socks: { port: 0 }, logger: false });
    try {
      const hello = Uint8Array.of(0x2a, 0x01, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01);
      const client = connect(gateway.socks.port, '127.0.0.1');
      client.on('error', () => {});
      await once(client, 'connect');
      // The FIN arrives while the gateway dials the upstream: the front misses the client's 'end'.
      client.end(Buffer.concat([socks4ConnectRequest('127.0.0.1', port), hello]));
      client.resume();
      const open = async () => (await gateway.metrics.sessions.get()).values.reduce((n, v) => n + v.value, 0);
      for (let waited = 0; waited < 3000 && (await open()) === 0; waited += 50)
        await new Promise((r) => setTimeout(r, 50));
      client.destroy();
      for (let waited = 0; waited < 3000 && (await open()) > 0; waited += 50)
        await new Promise((r) => setTimeout(r, 50));
      expect(await open()).toBe(0);
    } finally {
      await gateway.close();
      server.close();
    }
  });

  it('refuses a G2G event that is not JSON with a typed error (JSON canonical form)', () => {
    let error: unknown;
    try {
      jsonForm.decode(Buffer.from('{'));
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toMatch(/^ERR_/);
  });
});
