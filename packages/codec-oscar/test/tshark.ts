import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { toPcap } from '@crosstalk/compliance';

const run = promisify(execFile);

/**
 * Our bytes through text2pcap and tshark (`-d tcp.port==5190,aim`), one TCP segment per frame.
 * The pcap goes through a temporary file: compliance's `tsharkFields` pipes it to `tshark -r -`
 * over Node's stdin, a socket pair, which tshark 4.0 refuses ("standard input is a special file
 * or socket").
 */
export async function tsharkAim(
  packets: readonly Uint8Array[],
  fields: readonly string[],
): Promise<Record<string, string[]>[]> {
  const pcap = await toPcap(packets, 40000, 5190);
  const dir = await mkdtemp(join(tmpdir(), 'codec-oscar-tshark-'));
  try {
    const file = join(dir, 'frames.pcap');
    await writeFile(file, pcap);
    const args = ['-r', file, '-d', 'tcp.port==5190,aim', '-T', 'json', '-e', 'frame.number'];
    for (const f of fields) args.push('-e', f);
    const { stdout } = await run('tshark', args, { maxBuffer: 256 * 1024 * 1024 });
    return (JSON.parse(stdout || '[]') as { _source: { layers: Record<string, string[]> } }[]).map(
      (p) => p._source.layers,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
