/**
 * A small SVG bar chart of the added delay per protocol pair (the paper's Figure 3): mean and p99
 * for every sender -> receiver pair, written without a charting dependency (a dozen rectangles).
 */
export interface Bar {
  label: string;
  mean: number;
  p99: number;
}

export function latencyChart(title: string, bars: readonly Bar[], unit = 'ms'): string {
  const width = 80 + bars.length * 46;
  const height = 320;
  const top = 40;
  const bottom = 250;
  const max = Math.max(1, ...bars.map((b) => (Number.isFinite(b.p99) ? b.p99 : 0))) * 1.1;
  const y = (v: number) => bottom - (Math.max(0, v) / max) * (bottom - top);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11" role="img">`,
    `<title>${esc(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<line x1="60" y1="${bottom}" x2="${width - 10}" y2="${bottom}" stroke="black"/>`,
    `<line x1="60" y1="${top}" x2="60" y2="${bottom}" stroke="black"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    parts.push(`<text x="55" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
    parts.push(`<line x1="60" y1="${y(v)}" x2="${width - 10}" y2="${y(v)}" stroke="#ddd"/>`);
  }
  parts.push(
    `<text x="15" y="${(top + bottom) / 2}" transform="rotate(-90 15 ${(top + bottom) / 2})" text-anchor="middle">added delay (${unit})</text>`,
  );
  bars.forEach((b, i) => {
    const x = 70 + i * 46;
    if (Number.isFinite(b.p99))
      parts.push(
        `<rect x="${x + 18}" y="${y(b.p99)}" width="16" height="${bottom - y(b.p99)}" fill="#e8a33d"/>`,
      );
    if (Number.isFinite(b.mean))
      parts.push(
        `<rect x="${x}" y="${y(b.mean)}" width="16" height="${bottom - y(b.mean)}" fill="#3d7de8"/>`,
      );
    parts.push(
      `<text x="${x + 17}" y="${bottom + 12}" text-anchor="end" transform="rotate(-45 ${x + 17} ${bottom + 12})">${esc(b.label)}</text>`,
    );
  });
  parts.push(
    `<rect x="${width - 150}" y="${top}" width="10" height="10" fill="#3d7de8"/><text x="${width - 135}" y="${top + 9}">mean</text>`,
  );
  parts.push(
    `<rect x="${width - 90}" y="${top}" width="10" height="10" fill="#e8a33d"/><text x="${width - 75}" y="${top + 9}">p99</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}
