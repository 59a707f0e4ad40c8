/**
 * The suite's rule for a test whose prerequisite (torch, OpenCV, a browser, a model file) is missing:
 * in CI (CI set and not 'false'/'0') that is a failure, since CI installs every prerequisite and a skip
 * there would hide a parity check; on a developer machine the test skips with the reason.
 * Returns true when the caller should skip; throws in CI. `reason` null means the prerequisite is there.
 */
export function skipOutsideCi(file: string, reason: string | null): boolean {
  if (reason === null) return false;
  const ci = process.env.CI;
  if (ci && ci !== 'false' && ci !== '0') throw new Error(`${file}: CI must run these tests, but ${reason}`);
  console.warn(`${file}: skipped: ${reason}`);
  return true;
}
