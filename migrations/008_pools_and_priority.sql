-- SPDX-License-Identifier: Apache-2.0
-- GPU pools, priority classes and adaptive policies (design §14):
--   pool                 the model servers behind a set of models: thresholds of saturation and
--                        where its load is read (the model servers' /metrics, PromQL)
--   model.pool_name      the pool serving a model (at most one; NULL: none)
--   priority             critical | standard | sheddable on tenants, tiers and API keys
--                        (API key > tenant > tier; NULL: the next one decides, standard at last)
--   adaptive, min_factor, max_factor   a policy whose limit follows its pool's load
-- Forward-only and idempotent: safe to run again.

CREATE TABLE IF NOT EXISTS pool (
    name                text PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 128),
    queue_threshold     double precision NOT NULL DEFAULT 5 CHECK (queue_threshold > 0),
    kv_cache_threshold  double precision NOT NULL DEFAULT 0.8 CHECK (kv_cache_threshold > 0 AND kv_cache_threshold <= 1),
    metrics_urls        text[] NOT NULL DEFAULT '{}',
    queue_query         text,
    kv_cache_query      text,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- (the foreign key is added apart, by name: ADD COLUMN IF NOT EXISTS … REFERENCES would add a
-- second constraint when the file runs again)
ALTER TABLE model ADD COLUMN IF NOT EXISTS pool_name text;

ALTER TABLE tenant ADD COLUMN IF NOT EXISTS priority text;
ALTER TABLE model_tier ADD COLUMN IF NOT EXISTS priority text;
ALTER TABLE api_key ADD COLUMN IF NOT EXISTS priority text;

ALTER TABLE rate_limit_policy ADD COLUMN IF NOT EXISTS adaptive boolean NOT NULL DEFAULT false;
ALTER TABLE rate_limit_policy ADD COLUMN IF NOT EXISTS min_factor double precision NOT NULL DEFAULT 0.1;
ALTER TABLE rate_limit_policy ADD COLUMN IF NOT EXISTS max_factor double precision NOT NULL DEFAULT 1;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenant', 'model_tier', 'api_key'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = t || '_priority_known') THEN
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (priority IN (''critical'', ''standard'', ''sheddable''))',
                           t, t || '_priority_known');
        END IF;
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'model_pool_known') THEN
        ALTER TABLE model ADD CONSTRAINT model_pool_known FOREIGN KEY (pool_name) REFERENCES pool (name)
            ON DELETE SET NULL ON UPDATE CASCADE;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'policy_factors_in_range') THEN
        ALTER TABLE rate_limit_policy ADD CONSTRAINT policy_factors_in_range
            CHECK (min_factor > 0 AND min_factor <= 1 AND max_factor >= 1 AND max_factor <= 10);
    END IF;
END $$;

-- A pool's changes reach every instance like the other registry tables'.
DROP TRIGGER IF EXISTS pool_notify ON pool;
CREATE TRIGGER pool_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pool
    FOR EACH STATEMENT EXECUTE FUNCTION sluice_notify_changed();

INSERT INTO sluice_schema_version (version, name) VALUES (8, '008_pools_and_priority') ON CONFLICT (version) DO NOTHING;
