// Goal: a test that needs an absent service skips with a printed reason, except in CI (fails).
// Method: call requireOrSkip with CI and AMISYNC_REQUIRE_SERVICES set and unset.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireOrSkip, servicesRequired } from './services.js';

describe('requireOrSkip', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('runs when the service is there', () => {
    expect(requireOrSkip('sshd', true)).toBe(true);
  });

  it('skips with a printed reason when the service is absent outside CI', () => {
    vi.stubEnv('CI', '');
    vi.stubEnv('AMISYNC_REQUIRE_SERVICES', '');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(servicesRequired()).toBe(false);
    expect(requireOrSkip('sshd', false, 'not installed at /usr/sbin/sshd')).toBe(false);
    expect(log).toHaveBeenCalledWith(
      'skipping the sshd tests: sshd is not installed at /usr/sbin/sshd',
    );
  });

  it('fails with the reason when CI requires the service', () => {
    vi.stubEnv('CI', 'true');
    expect(() => requireOrSkip('sshd', false, 'not installed')).toThrow(
      /sshd is required in CI \(CI=true\) but is not available: not installed/,
    );
  });
});
