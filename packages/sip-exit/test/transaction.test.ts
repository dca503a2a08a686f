import { describe, expect, it } from 'vitest';
import {
  ClientTransaction,
  type ClientTransactionUser,
  parseDatagram,
  RFC3261_TIMERS,
  responseFor,
  ServerTransaction,
  type SipDestination,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  TransactionLayer,
} from '../src/index.js';
import { ManualClock } from './support/manual-clock.js';

const UDP: SipDestination = { transport: 'udp', host: '127.0.0.1', port: 5070 };
const TCP: SipDestination = { transport: 'tcp', host: '127.0.0.1', port: 5070 };

function request(method: string, branch = 'z9hG4bKabc'): SipRequest {
  const text = [
    `${method} sip:bob@127.0.0.1:5070 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:5060;branch=${branch}`,
    'Max-Forwards: 70',
    'Route: <sip:127.0.0.1:5099;lr>',
    'From: <sip:alice@x>;tag=a1',
    'To: <sip:bob@x>',
    'Call-ID: c1@x',
    `CSeq: 7 ${method}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseDatagram(new TextEncoder().encode(text)) as SipRequest;
}

function harness() {
  const clock = new ManualClock();
  const sent: { at: number; message: SipMessage; to: SipDestination }[] = [];
  const ctx = {
    send: (message: SipMessage, to: SipDestination) => sent.push({ at: clock.now, message, to }),
    scheduler: clock,
    timers: RFC3261_TIMERS,
  };
  const told: string[] = [];
  const user: ClientTransactionUser = {
    onResponse: (r) => told.push(String(r.status)),
    onTimeout: () => told.push('timeout'),
    onTransportError: () => told.push('transport-error'),
  };
  return { clock, sent, ctx, told, user };
}

const reply = (req: SipRequest, status: number, toTag = 'b1'): SipResponse =>
  responseFor(req, status, { toTag });

describe('client transactions (RFC 3261 §17.1)', () => {
  it('INVITE over UDP: Timer A doubles from T1, Timer B gives up at 64*T1', () => {
    const { clock, sent, ctx, told, user } = harness();
    let ended = false;
    new ClientTransaction(ctx, request('INVITE'), UDP, user, () => {
      ended = true;
    }).start();
    clock.advance(40_000);
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500, 15_500, 31_500]);
    expect(told).toEqual(['timeout']);
    expect(ended).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('INVITE: a provisional stops retransmissions; a failure is ACKed by the transaction, once per retransmission, then Timer D ends it', () => {
    const { clock, sent, ctx, told, user } = harness();
    const invite = request('INVITE');
    let ended = false;
    const tx = new ClientTransaction(ctx, invite, UDP, user, () => {
      ended = true;
    });
    tx.start();
    clock.advance(600);
    tx.receive(reply(invite, 180));
    clock.advance(10_000);
    expect(sent).toHaveLength(2);
    tx.receive(reply(invite, 486));
    expect(told).toEqual(['180', '486']);
    const ack = sent[2]?.message as SipRequest;
    // §17.1.1.3: same Request-URI, Via, Call-ID, From, CSeq number, Route; the response's To.
    expect(ack.method).toBe('ACK');
    expect(ack.uri).toBe(invite.uri);
    expect(ack.headers.get('via')).toBe(invite.headers.get('via'));
    expect(ack.headers.get('to')).toBe('<sip:bob@x>;tag=b1');
    expect(ack.headers.get('cseq')).toBe('7 ACK');
    expect(ack.headers.get('route')).toBe('<sip:127.0.0.1:5099;lr>');
    tx.receive(reply(invite, 486));
    expect(sent.filter((s) => (s.message as SipRequest).method === 'ACK')).toHaveLength(2);
    expect(told).toEqual(['180', '486']);
    clock.advance(31_999);
    expect(ended).toBe(false);
    clock.advance(1);
    expect(ended).toBe(true);
  });

  it('INVITE over TCP: no retransmission; a 2xx ends the transaction at once, without an ACK', () => {
    const { clock, sent, ctx, told, user } = harness();
    const invite = request('INVITE');
    let ended = false;
    const tx = new ClientTransaction(ctx, invite, TCP, user, () => {
      ended = true;
    });
    tx.start();
    clock.advance(20_000);
    expect(sent).toHaveLength(1);
    tx.receive(reply(invite, 200));
    expect(told).toEqual(['200']);
    expect(ended).toBe(true);
    expect(sent).toHaveLength(1);
  });

  it('non-INVITE over UDP: Timer E doubles up to T2, then every T2 after a provisional; Timer F at 64*T1', () => {
    const { clock, sent, ctx, told, user } = harness();
    const bye = request('BYE');
    const tx = new ClientTransaction(ctx, bye, UDP, user, () => {});
    tx.start();
    clock.advance(12_000);
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500, 11_500]);
    tx.receive(reply(bye, 100));
    clock.advance(8000);
    expect(sent.map((s) => s.at).slice(6)).toEqual([16_000, 20_000]);
    clock.advance(20_000);
    expect(told).toEqual(['100', 'timeout']);
  });

  it('non-INVITE: a final response is passed up once; Timer K absorbs retransmissions for T4', () => {
    const { clock, ctx, told, user } = harness();
    const bye = request('BYE');
    let ended = false;
    const tx = new ClientTransaction(ctx, bye, UDP, user, () => {
      ended = true;
    });
    tx.start();
    tx.receive(reply(bye, 200));
    tx.receive(reply(bye, 200));
    expect(told).toEqual(['200']);
    clock.advance(RFC3261_TIMERS.T4);
    expect(ended).toBe(true);
  });

  it('a transport error ends the transaction and says so', () => {
    const { ctx, told, user } = harness();
    const tx = new ClientTransaction(ctx, request('INVITE'), TCP, user, () => {});
    tx.start();
    tx.transportError();
    expect(told).toEqual(['transport-error']);
    expect(tx.state).toBe('terminated');
  });
});

describe('server transactions (RFC 3261 §17.2)', () => {
  it('INVITE over UDP: a failure is retransmitted by Timer G (doubling up to T2) until the ACK', () => {
    const { clock, sent, ctx } = harness();
    const invite = request('INVITE');
    let ended = false;
    const tx = new ServerTransaction(ctx, invite, UDP, () => {
      ended = true;
    });
    tx.respond(reply(invite, 100));
    tx.receive(invite); // a retransmitted INVITE gets the last response again
    expect(sent.map((s) => (s.message as SipResponse).status)).toEqual([100, 100]);
    tx.respond(reply(invite, 486));
    clock.advance(11_000);
    expect(sent.slice(2).map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500]);
    tx.receive(request('ACK'));
    expect(tx.state).toBe('confirmed');
    clock.advance(20_000);
    expect(sent).toHaveLength(7);
    expect(ended).toBe(true);
  });

  it('INVITE: without an ACK, Timer H gives up at 64*T1', () => {
    const { clock, ctx } = harness();
    const invite = request('INVITE');
    const tx = new ServerTransaction(ctx, invite, UDP, () => {});
    let gaveUp = false;
    tx.onAckTimeout = () => {
      gaveUp = true;
    };
    tx.respond(reply(invite, 404));
    clock.advance(31_999);
    expect(gaveUp).toBe(false);
    clock.advance(1);
    expect(gaveUp).toBe(true);
    expect(tx.state).toBe('terminated');
  });

  it('a 2xx ends an INVITE transaction; a later response is ignored', () => {
    const { sent, ctx } = harness();
    const invite = request('INVITE');
    const tx = new ServerTransaction(ctx, invite, UDP, () => {});
    tx.respond(reply(invite, 200));
    tx.respond(reply(invite, 487));
    expect(sent).toHaveLength(1);
    expect(tx.state).toBe('terminated');
  });

  it('non-INVITE over UDP: retransmitted requests get the final again until Timer J', () => {
    const { clock, sent, ctx } = harness();
    const bye = request('BYE');
    let ended = false;
    const tx = new ServerTransaction(ctx, bye, UDP, () => {
      ended = true;
    });
    tx.receive(bye); // nothing sent yet: nothing to repeat
    tx.respond(reply(bye, 200));
    tx.receive(bye);
    expect(sent).toHaveLength(2);
    clock.advance(64 * RFC3261_TIMERS.T1);
    expect(ended).toBe(true);
  });
});

describe('the transaction layer (RFC 3261 §17.1.3, §17.2.3)', () => {
  it('matches responses by branch and CSeq method, requests by branch, sent-by and method (ACK to its INVITE)', () => {
    const clock = new ManualClock();
    const sent: SipMessage[] = [];
    const layer = new TransactionLayer({ send: (m) => sent.push(m), scheduler: clock });
    const invite = request('INVITE', 'z9hG4bKserver1');
    const server = layer.createServer(invite, UDP);
    expect(layer.findServer(request('INVITE', 'z9hG4bKserver1'))).toBe(server);
    expect(layer.findServer(request('ACK', 'z9hG4bKserver1'))).toBe(server);
    expect(layer.findServer(request('CANCEL', 'z9hG4bKserver1'))).toBeUndefined();
    expect(layer.findInviteFor(request('CANCEL', 'z9hG4bKserver1'))).toBe(server);
    expect(layer.findServer(request('INVITE', 'z9hG4bKother'))).toBeUndefined();

    const told: number[] = [];
    const out = request('OPTIONS', 'z9hG4bKclient1');
    layer.startClient(out, UDP, {
      onResponse: (r) => told.push(r.status),
      onTimeout() {},
      onTransportError() {},
    });
    expect(layer.receiveResponse(reply(out, 200))).toBe(true);
    expect(layer.receiveResponse(reply(request('OPTIONS', 'z9hG4bKunknown'), 200))).toBe(false);
    // Same branch, another method: not this transaction.
    expect(layer.receiveResponse(reply(request('INVITE', 'z9hG4bKclient1'), 200))).toBe(false);
    expect(told).toEqual([200]);
    // Ended transactions are forgotten.
    clock.advance(64 * RFC3261_TIMERS.T1);
    expect(layer.size).toEqual({ client: 0, server: 1 });
    server.respond(reply(invite, 200));
    expect(layer.size).toEqual({ client: 0, server: 0 });
  });
});
