/** A few SVG primitives for the benchmark plots: enough for bars, dots, lines and axes, nothing more. */

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const n = (v: number) => (Math.round(v * 10) / 10).toString();

export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export interface TextOptions {
  size?: number;
  anchor?: 'start' | 'middle' | 'end';
  weight?: 'normal' | 'bold';
  fill?: string;
  rotate?: number;
}

export class Svg {
  readonly #parts: string[] = [];

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rect(0, 0, width, height, '#ffffff');
  }

  rect(x: number, y: number, w: number, h: number, fill: string, title?: string): void {
    const tip = title ? `<title>${escapeXml(title)}</title>` : '';
    this.#parts.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(Math.max(0, w))}" height="${n(Math.max(0, h))}" fill="${fill}">${tip}</rect>`);
  }

  line(x1: number, y1: number, x2: number, y2: number, stroke = '#333', width = 1, dash?: string): void {
    this.#parts.push(`<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${stroke}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
  }

  polyline(points: [number, number][], stroke: string, width = 2): void {
    this.#parts.push(`<polyline fill="none" stroke="${stroke}" stroke-width="${width}" points="${points.map(([x, y]) => `${n(x)},${n(y)}`).join(' ')}"/>`);
  }

  circle(cx: number, cy: number, r: number, fill: string, title?: string): void {
    const tip = title ? `<title>${escapeXml(title)}</title>` : '';
    this.#parts.push(`<circle cx="${n(cx)}" cy="${n(cy)}" r="${r}" fill="${fill}" fill-opacity="0.8">${tip}</circle>`);
  }

  text(x: number, y: number, content: string, options: TextOptions = {}): void {
    const transform = options.rotate ? ` transform="rotate(${options.rotate} ${n(x)} ${n(y)})"` : '';
    this.#parts.push(
      `<text x="${n(x)}" y="${n(y)}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${options.size ?? 12}" text-anchor="${options.anchor ?? 'start'}"` +
        ` font-weight="${options.weight ?? 'normal'}" fill="${options.fill ?? '#222'}"${transform}>${escapeXml(content)}</text>`,
    );
  }

  toString(): string {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}">\n${this.#parts.join('\n')}\n</svg>\n`;
  }
}

export type Scale = (value: number) => number;

export function linear(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** Round tick values from 0 (or `min`) to at least `max`. */
export function niceTicks(max: number, count = 5, min = 0): number[] {
  const span = Math.max(max - min, 1e-9);
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v < max + step * 0.999; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  return ticks;
}

export interface Frame {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

/** Gridlines, tick labels and axis titles for a plot area. */
export function axes(
  svg: Svg,
  frame: Frame,
  x: { scale: Scale; ticks: number[]; title: string; format?: (v: number) => string },
  y: { scale: Scale; ticks: number[]; title: string; format?: (v: number) => string },
): void {
  for (const t of y.ticks) {
    svg.line(frame.left, y.scale(t), frame.right, y.scale(t), '#e4e4e4');
    svg.text(frame.left - 6, y.scale(t) + 4, (y.format ?? String)(t), { anchor: 'end', size: 11, fill: '#555' });
  }
  for (const t of x.ticks) {
    svg.line(x.scale(t), frame.top, x.scale(t), frame.bottom, '#f0f0f0');
    svg.text(x.scale(t), frame.bottom + 16, (x.format ?? String)(t), { anchor: 'middle', size: 11, fill: '#555' });
  }
  svg.line(frame.left, frame.bottom, frame.right, frame.bottom, '#888');
  svg.line(frame.left, frame.top, frame.left, frame.bottom, '#888');
  svg.text((frame.left + frame.right) / 2, frame.bottom + 36, x.title, { anchor: 'middle', size: 12 });
  svg.text(frame.left - 46, (frame.top + frame.bottom) / 2, y.title, { anchor: 'middle', size: 12, rotate: -90 });
}

export function legend(svg: Svg, x: number, y: number, items: { label: string; color: string }[], perRow = 10): void {
  let cx = x;
  let cy = y;
  items.forEach((item, i) => {
    if (i > 0 && i % perRow === 0) {
      cx = x;
      cy += 18;
    }
    svg.rect(cx, cy - 10, 12, 12, item.color);
    svg.text(cx + 16, cy, item.label, { size: 11 });
    cx += 30 + item.label.length * 7;
  });
}
