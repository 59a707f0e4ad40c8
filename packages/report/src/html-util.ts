/** Small HTML helpers shared by the page's renderers. */

export function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function reducedBadge(): string {
  return '<span class="badge reduced" title="Reduced compute: not comparable to the paper as equals">reduced</span>';
}

export function fullBadge(): string {
  return '<span class="badge full" title="Paper settings">full</span>';
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return 'unknown';
  if (sec < 120) return `${sec.toFixed(1)} s`;
  if (sec < 7200) return `${(sec / 60).toFixed(1)} min`;
  return `${(sec / 3600).toFixed(2)} h`;
}
