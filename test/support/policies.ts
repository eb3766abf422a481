/** Dependency-policy settings for tests: small timeouts and backoffs, a breaker that needs 10 calls. */
export const POLICY_OPTIONS = {
  timeoutMs: 1_000,
  maxAttempts: 2,
  initialBackoffMs: 10,
  maxBackoffMs: 50,
  breakerThreshold: 0.5,
  breakerWindow: 20,
  breakerMinCalls: 10,
  halfOpenAfterMs: 1_000,
  bulkheadLimit: 64,
  bulkheadQueue: 64,
};
