/**
 * Tests that need an outside service (an SSH server, a broker) run when it is there and skip with
 * a printed reason when it is not, except in CI (CI=true, or AMISYNC_REQUIRE_SERVICES=1 as .ci/run
 * sets), where a missing service fails the test file instead of skipping it silently.
 */

/** Whether a missing service must fail the tests (CI) rather than skip them. */
export function servicesRequired(): boolean {
  return process.env['CI'] === 'true' || process.env['AMISYNC_REQUIRE_SERVICES'] === '1';
}

/**
 * True when the tests of `name` can run. When the service is absent it prints why the tests skip,
 * or throws in CI, so the test file fails with the reason.
 */
export function requireOrSkip(name: string, available: boolean, reason = 'not installed'): boolean {
  if (available) return true;
  if (servicesRequired()) {
    throw new Error(`${name} is required in CI (CI=true) but is not available: ${reason}`);
  }
  console.log(`skipping the ${name} tests: ${name} is ${reason}`);
  return false;
}
