import {
  type CodecGolden,
  capturePath,
  goldensFromTranscript,
  readTranscript,
  tcpStreamsFromPcap,
} from '@crosstalk/compliance';

/** Real OSCAR traffic (fixtures/captures): the Open OSCAR Server transcripts and the 2009 AIM capture. */
export const CAPTURES = capturePath();
export const PCAP = `${CAPTURES}/nfpc_evidence01_ann_aim.pcap`;
export const BUCP_TRANSCRIPT = `${CAPTURES}/transcripts/oscar_bucp_im_ras.jsonl`;
export const ROASTED_TRANSCRIPT = `${CAPTURES}/transcripts/oscar_flap_roasted_ras.jsonl`;

/** One golden per connection and direction of both transcripts. */
export function transcriptGoldens(): CodecGolden[] {
  return [
    ...goldensFromTranscript('bucp', readTranscript(BUCP_TRANSCRIPT)),
    ...goldensFromTranscript('roasted', readTranscript(ROASTED_TRANSCRIPT)),
  ];
}

/**
 * The capture's plain OSCAR streams on TCP 443, both directions: stream 2 (IMs, typing, acks) and
 * stream 4 (a service connection). Stream 3 is TLS and is skipped; the OFT file transfer runs on
 * port 5190 and is not OSCAR framing (docs/protocols/oscar.md).
 */
export function pcapStreams() {
  return tcpStreamsFromPcap(PCAP, { port: 443 }).filter(
    (s) => s.fromClient[0] === 0x2a && s.fromServer[0] === 0x2a,
  );
}

export function pcapGoldens(): CodecGolden[] {
  return pcapStreams().flatMap((s) => [
    { name: `pcap stream ${s.stream} client`, direction: 'client' as const, bytes: s.fromClient },
    { name: `pcap stream ${s.stream} server`, direction: 'server' as const, bytes: s.fromServer },
  ]);
}
