/**
 * Readiness strips for the HTML report (issue 11 item 3): one row per service, coloured by its
 * `/readyz` samples over time (ready, unready, unreachable), with the fault windows shaded. A sample
 * holds until the next one of the same service. Inline SVG, no script.
 */
import type { NemesisOp, ProbeOp } from "../history/op.ts";
import { faultWindows } from "./fault-windows.ts";
import { escapeXml as esc } from "./format.ts";

const COLORS: Record<ProbeOp["status"], string> = { up: "#1a7f37", down: "#cf222e", unreachable: "#6e7781" };
const LABEL_WIDTH = 150;
const WIDTH = 900;
const ROW = 18;

export function readinessStrips(
  probes: readonly ProbeOp[],
  faults: readonly NemesisOp[],
  durationMs: number,
): string {
  const ready = probes.filter((p) => p.endpoint === "readyz");
  if (ready.length === 0) return '<p class="muted">No readiness samples in this run.</p>';
  const services = [...new Set(ready.map((p) => p.service))].sort();
  const end = Math.max(durationMs, ...ready.map((p) => p.time)) || 1;
  const x = (ms: number) => LABEL_WIDTH + (Math.max(0, ms) / end) * (WIDTH - LABEL_WIDTH);
  const height = services.length * ROW + 16;
  const shades = faultWindows(faults).map(
    (w) =>
      `<rect class="fault" x="${x(w.start).toFixed(1)}" y="0" width="${Math.max(1, x(w.end ?? end) - x(w.start)).toFixed(1)}" height="${height - 16}" fill="#d0d7de" opacity="0.5"><title>${esc(w.nemesis)}</title></rect>`,
  );
  const rows = services.map((service, i) => {
    const samples = ready.filter((p) => p.service === service).sort((a, b) => a.time - b.time);
    const y = i * ROW + 3;
    const segments = samples.map((p, j) => {
      const next = samples[j + 1]?.time ?? p.time + 300;
      return `<rect x="${x(p.time).toFixed(1)}" y="${y + 2}" width="${Math.max(0.5, x(next) - x(p.time)).toFixed(1)}" height="${ROW - 8}" fill="${COLORS[p.status]}"><title>${esc(service)} ${(p.time / 1000).toFixed(1)} s: ${p.status}${p.httpStatus ? ` (${p.httpStatus})` : ""}</title></rect>`;
    });
    return `<g data-testid="readiness-strip" data-service="${esc(service)}"><text x="0" y="${y + ROW - 6}" font-size="12">${esc(service)}</text>${segments.join("")}</g>`;
  });
  const axis = `<text x="${LABEL_WIDTH}" y="${height - 2}" font-size="11" fill="#57606a">0 s</text><text x="${WIDTH}" y="${height - 2}" font-size="11" fill="#57606a" text-anchor="end">${(end / 1000).toFixed(0)} s</text>`;
  const key = Object.entries(COLORS)
    .map(
      ([status, color]) =>
        `<span class="key"><i style="background:${color}"></i>${status === "up" ? "ready" : status === "down" ? "unready" : "unreachable"}</span>`,
    )
    .join("");
  return `<figure class="chart-figure" data-testid="readiness"><svg viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="readiness per service">${shades.join("")}${rows.join("")}${axis}</svg><figcaption>Readiness (/readyz) per service ${key}<span class="key"><i class="fault-key"></i>fault window</span></figcaption></figure>`;
}
