export { buildReport, type BuildReportOptions, type BuildReportOutcome } from './build.js';
export * from './published.js';
export * from './load.js';
export * from './stats.js';
export * from './tables.js';
export * from './findings.js';
export * from './results-json.js';
export { buildQualitativePanels, type QualPanel, type QualImage, type QualTile } from './qualitative.js';
export { renderPage, renderComparisonTable, renderPublishedTable, esc, type PageModel } from './html.js';
