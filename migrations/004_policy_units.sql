-- SPDX-License-Identifier: Apache-2.0
-- Policy units (design §10): what a policy counts.
--   requests    every admitted request weighs 1 (what every policy counted before; the default)
--   tokens      an admitted request weighs its token cost, reconciled when it completes
--   concurrent  an admitted request holds a lease until it completes; no window (NULL), the
--               limit is the number of leases held at once
-- One scope and selector may carry one policy per unit, so the uniqueness rule includes the unit.
-- Forward-only and idempotent: safe to run again.

ALTER TABLE rate_limit_policy ADD COLUMN IF NOT EXISTS unit text NOT NULL DEFAULT 'requests';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'policy_unit_known') THEN
        ALTER TABLE rate_limit_policy ADD CONSTRAINT policy_unit_known
            CHECK (unit IN ('requests', 'tokens', 'concurrent'));
    END IF;
END $$;

-- A concurrent policy has no window; every other one has one (> 0, checked since 001).
ALTER TABLE rate_limit_policy ALTER COLUMN window_seconds DROP NOT NULL;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'policy_window_fits_unit') THEN
        ALTER TABLE rate_limit_policy ADD CONSTRAINT policy_window_fits_unit
            CHECK ((unit = 'concurrent') = (window_seconds IS NULL));
    END IF;
END $$;

-- The uniqueness rule of 001 plus the unit (dropped and made again only while it lacks it).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'rate_limit_policy_selectors'
                   AND indexdef LIKE '%unit%') THEN
        DROP INDEX IF EXISTS rate_limit_policy_selectors;
        CREATE UNIQUE INDEX rate_limit_policy_selectors ON rate_limit_policy (
            scope, coalesce(tenant_id, ''), coalesce(user_id, ''), coalesce(api_key_id, 0),
            coalesce(model_id, ''), coalesce(model_tier_id, ''), unit);
    END IF;
END $$;

INSERT INTO sluice_schema_version (version, name) VALUES (4, '004_policy_units') ON CONFLICT (version) DO NOTHING;
