import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GatewayStatus } from '../status/status-board.js';
import { renderStatusPage } from '../status/status-page.js';

/**
 * The gateway's Prometheus metrics, on a registry of its own so several gateways can share a
 * process: sessions by protocol, translated events by protocol pair, delivery latency.
 */
export class GatewayMetrics {
  /** The registry every metric below is on (serve it, or merge it into an application's). */
  readonly registry = new Registry();
  /** `crosstalk_sessions{protocol}`. */
  readonly sessions = new Gauge({
    name: 'crosstalk_sessions',
    help: 'Proxied client connections with a codec session, by protocol',
    labelNames: ['protocol'],
    registers: [this.registry],
  });
  /** `crosstalk_relayed_connections_total`. */
  readonly relayed = new Counter({
    name: 'crosstalk_relayed_connections_total',
    help: 'Connections relayed untouched because no codec recognised them',
    registers: [this.registry],
  });
  /** `crosstalk_verified_users`. */
  readonly users = new Gauge({
    name: 'crosstalk_verified_users',
    help: 'Users whose login the server confirmed, with at least one connection',
    registers: [this.registry],
  });
  /** `crosstalk_translated_events_total{from,to,kind}`. */
  readonly translated = new Counter({
    name: 'crosstalk_translated_events_total',
    help: 'Events carried from a user of one protocol to a user of another (or the same) protocol',
    labelNames: ['from', 'to', 'kind'],
    registers: [this.registry],
  });
  /** `crosstalk_delivery_latency_seconds`. */
  readonly deliveryLatency = new Histogram({
    name: 'crosstalk_delivery_latency_seconds',
    help: 'From the sender gateway intercepting an event to the receiving gateway delivering it',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  /** `crosstalk_undeliverable_events_total{kind,reason}`. */
  readonly undeliverable = new Counter({
    name: 'crosstalk_undeliverable_events_total',
    help: 'Outbound events that could not be delivered, by reason',
    labelNames: ['kind', 'reason'],
    registers: [this.registry],
  });
  /** `crosstalk_refused_total{reason}`. */
  readonly refused = new Counter({
    name: 'crosstalk_refused_total',
    help: 'SOCKS requests refused, G2G events refused, connections refused over a limit or closed for bad input or a missed deadline, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  /** `crosstalk_untranslated_frames_total`. */
  readonly untranslated = new Counter({
    name: 'crosstalk_untranslated_frames_total',
    help: 'Frames a session could not read and passed on untouched instead of closing the connection',
    labelNames: ['protocol', 'direction'],
    registers: [this.registry],
  });
  /** `crosstalk_rejected_directory_records_total`. */
  readonly rejectedRecords = new Counter({
    name: 'crosstalk_rejected_directory_records_total',
    help: 'DHT values that failed verification (forged, tampered, expired, untrusted)',
    registers: [this.registry],
  });

  /** `crosstalk_verified_directory_records_total{kind}`. */
  readonly verifiedRecords = new Counter({
    name: 'crosstalk_verified_directory_records_total',
    help: 'Directory records checked on read (parsed, then their signature verified; a value read again is not checked again), by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });

  /** `crosstalk_g2g_resent_ims_total`. */
  readonly resentIms = new Counter({
    name: 'crosstalk_g2g_resent_ims_total',
    help: 'IMs that arrived over G2G again (their sender missed the acknowledgement and sent them once more) and were not shown again',
    registers: [this.registry],
  });

  /** `crosstalk_g2g_late_acks_total{outcome}`. */
  readonly lateAcks = new Counter({
    name: 'crosstalk_g2g_late_acks_total',
    help: 'G2G events that waited past the ACK timeout while their peer answered others on the link (a peer slow with its directory; the link is kept), by how they ended: answered, or failed alone',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  /** `crosstalk_accept_errors_total{listener}`. */
  readonly acceptErrors = new Counter({
    name: 'crosstalk_accept_errors_total',
    help: 'Connections a listener could not accept (EMFILE: raise the open-files limit), by listener',
    labelNames: ['listener'],
    registers: [this.registry],
  });

  /** `crosstalk_feature_loss_total{from,to,feature}`. */
  readonly featureLoss = new Counter({
    name: 'crosstalk_feature_loss_total',
    help: 'Features an event sent by a user here lost on the way to its recipient (the chain does not carry them), by sender protocol, recipient protocol and feature',
    labelNames: ['from', 'to', 'feature'],
    registers: [this.registry],
  });

  /** `crosstalk_routed_events_total{role}`. */
  readonly routed = new Counter({
    name: 'crosstalk_routed_events_total',
    help: "Events carried hop by hop along a capability chain, by this gateway's role (origin, relay, delivery; repeat: an envelope that came again, answered with its first outcome)",
    labelNames: ['role'],
    registers: [this.registry],
  });

  /** `crosstalk_plugin_requests_total{plugin,outcome}`. */
  readonly pluginRequests = new Counter({
    name: 'crosstalk_plugin_requests_total',
    help: 'Plugin commands, by plugin and outcome (answered, silent, failed, timeout, invalid-reply, reply-too-long, rate-limited, undeliverable)',
    labelNames: ['plugin', 'outcome'],
    registers: [this.registry],
  });

  /** `crosstalk_handoffs_total{stage}`. */
  readonly handOffs = new Counter({
    name: 'crosstalk_handoffs_total',
    help: 'Connections handed to another worker of the host (stage socks: a virtual endpoint that worker holds; session: a user that worker serves)',
    labelNames: ['stage'],
    registers: [this.registry],
  });

  #server: Server | undefined;

  /**
   * Serves `/metrics` on host:port and, given `status`, the status page at `/` (HTML) and
   * `/status.json`.
   */
  async listen(
    host: string,
    port: number,
    status?: () => GatewayStatus,
  ): Promise<{ host: string; port: number }> {
    const server = createServer(async (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/metrics') {
        res.writeHead(200, { 'content-type': this.registry.contentType });
        res.end(await this.registry.metrics());
        return;
      }
      if (status && (path === '/' || path === '/status')) {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          // Nothing on the page runs or loads: no script, no frame, no remote resource.
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
          'x-content-type-options': 'nosniff',
        });
        res.end(renderStatusPage(status()));
        return;
      }
      if (status && path === '/status.json') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(`${JSON.stringify(status(), null, 2)}\n`);
        return;
      }
      res.writeHead(404).end(status ? 'try /, /status.json or /metrics\n' : 'try /metrics\n');
    });
    server.listen(port, host);
    await once(server, 'listening');
    this.#server = server;
    return { host, port: (server.address() as { port: number }).port };
  }

  /** The address the endpoint is bound to, while it serves. */
  get boundAddress(): AddressInfo | undefined {
    return (this.#server?.address() as AddressInfo | null) ?? undefined;
  }

  /** Stops serving (and closes open requests). */
  async close(): Promise<void> {
    if (!this.#server) return;
    const closed = once(this.#server, 'close');
    this.#server.close();
    this.#server.closeAllConnections();
    await closed;
  }
}
