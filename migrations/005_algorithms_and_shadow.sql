-- SPDX-License-Identifier: Apache-2.0
-- Algorithms and modes per policy (design §11):
--   algorithm  sliding_log (the exact log; the default) or token_bucket (GCRA: a bucket of `burst`,
--              refilled at limit_value per window_seconds; one timestamp per key)
--   burst      token_bucket only: its capacity (NULL: the limit), >= 1
--   shadow     evaluated and reported, never blocks (dry run)
-- Windows run from 1 second to 31 days.
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

INSERT INTO sluice_schema_version (version, name) VALUES (5, '005_algorithms_and_shadow') ON CONFLICT (version) DO NOTHING;
