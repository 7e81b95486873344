-- SPDX-License-Identifier: Apache-2.0
-- Algorithms and modes per policy (design §11):
--   algorithm  sliding_log (the exact log; the default) or token_bucket (GCRA: a bucket of `burst`,
--              refilled at limit_value per window_seconds; one timestamp per key)
--   burst      token_bucket only: its capacity (NULL: the limit), >= 1
--   shadow     evaluated and reported, never blocks (dry run)
-- Windows run from 1 second to 31 days. The demo gains a token-bucket policy and a shadow one on
-- gpt-4o-mini (the seed's rows and its scenarios A, B and C are untouched).
-- Forward-only and idempotent: safe to run again.

ALTER TABLE rate_limit_policy ADD COLUMN IF NOT EXISTS algorithm text NOT NULL DEFAULT 'sliding_log';
ALTER TABLE rate_limit_policy ADD COLUMN IF NOT EXISTS burst bigint;
ALTER TABLE rate_limit_policy ADD COLUMN IF NOT EXISTS shadow boolean NOT NULL DEFAULT false;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'policy_algorithm_known') THEN
        ALTER TABLE rate_limit_policy ADD CONSTRAINT policy_algorithm_known
            CHECK (algorithm IN ('sliding_log', 'token_bucket'));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'policy_burst_fits_algorithm') THEN
        ALTER TABLE rate_limit_policy ADD CONSTRAINT policy_burst_fits_algorithm
            CHECK (burst IS NULL OR (algorithm = 'token_bucket' AND burst >= 1));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'policy_bucket_not_concurrent') THEN
        ALTER TABLE rate_limit_policy ADD CONSTRAINT policy_bucket_not_concurrent
            CHECK (algorithm = 'sliding_log' OR unit <> 'concurrent');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'policy_window_at_most_31_days') THEN
        ALTER TABLE rate_limit_policy ADD CONSTRAINT policy_window_at_most_31_days
            CHECK (window_seconds IS NULL OR window_seconds <= 2678400) NOT VALID;
    END IF;
END $$;

-- The demo's new rows, only where the demo's models are (never in a registry of one's own).
INSERT INTO rate_limit_policy (scope, model_id, window_seconds, limit_value, algorithm, burst, description)
SELECT 'USER_MODEL', 'gpt-4o-mini', 60, 60, 'token_bucket', 10, 'gpt-4o-mini users: 60 per minute, bursts of 10'
WHERE EXISTS (SELECT 1 FROM model WHERE id = 'gpt-4o-mini')
  AND NOT EXISTS (SELECT 1 FROM rate_limit_policy WHERE scope = 'USER_MODEL' AND user_id IS NULL
                  AND model_id = 'gpt-4o-mini' AND unit = 'requests');
INSERT INTO rate_limit_policy (scope, model_id, window_seconds, limit_value, shadow, description)
SELECT 'MODEL', 'gpt-4o-mini', 60, 30, true, 'Trying 30 per minute on gpt-4o-mini before enforcing it'
WHERE EXISTS (SELECT 1 FROM model WHERE id = 'gpt-4o-mini')
  AND NOT EXISTS (SELECT 1 FROM rate_limit_policy WHERE scope = 'MODEL' AND model_id = 'gpt-4o-mini' AND unit = 'requests');
