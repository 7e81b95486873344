-- SPDX-License-Identifier: Apache-2.0
-- Sluice registry schema (design §5): tenants, users, API keys (SHA-256 only), model tiers,
-- models and rate-limit policies, plus a trigger that tells every Sluice instance (LISTEN
-- sluice_policy_changed) that the registry changed. Idempotent: safe to run again.

DO $$ BEGIN
    CREATE TYPE policy_scope AS ENUM ('GLOBAL', 'MODEL_TIER', 'MODEL', 'TENANT', 'API_KEY', 'USER_MODEL');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

CREATE TABLE IF NOT EXISTS tenant (
    id          text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 128),
    name        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS user_account (
    id          text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 128),
    tenant_id   text NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS model_tier (
    id          text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 128),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS model (
    id          text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 128),
    tier_id     text NOT NULL REFERENCES model_tier (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS api_key (
    id          bigserial PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    user_id     text REFERENCES user_account (id) ON DELETE CASCADE,
    key_hash    bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    prefix      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE IF NOT EXISTS rate_limit_policy (
    id              bigserial PRIMARY KEY,
    scope           policy_scope NOT NULL,
    tenant_id       text REFERENCES tenant (id) ON DELETE CASCADE,
    user_id         text REFERENCES user_account (id) ON DELETE CASCADE,
    api_key_id      bigint REFERENCES api_key (id) ON DELETE CASCADE,
    model_id        text REFERENCES model (id) ON DELETE CASCADE,
    model_tier_id   text REFERENCES model_tier (id) ON DELETE CASCADE,
    window_seconds  integer NOT NULL CHECK (window_seconds > 0),
    limit_value     bigint NOT NULL CHECK (limit_value >= 0),
    enabled         boolean NOT NULL DEFAULT true,
    description     text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- each scope may only set its own selectors (design §2)
    CONSTRAINT policy_selectors_fit_scope CHECK (
        CASE scope
            WHEN 'USER_MODEL' THEN tenant_id IS NULL AND api_key_id IS NULL AND model_tier_id IS NULL
            WHEN 'API_KEY'    THEN tenant_id IS NULL AND user_id IS NULL AND model_id IS NULL AND model_tier_id IS NULL
            WHEN 'TENANT'     THEN user_id IS NULL AND api_key_id IS NULL AND model_id IS NULL AND model_tier_id IS NULL
            WHEN 'MODEL'      THEN tenant_id IS NULL AND user_id IS NULL AND api_key_id IS NULL AND model_tier_id IS NULL
            WHEN 'MODEL_TIER' THEN tenant_id IS NULL AND user_id IS NULL AND api_key_id IS NULL AND model_id IS NULL
            ELSE tenant_id IS NULL AND user_id IS NULL AND api_key_id IS NULL AND model_id IS NULL AND model_tier_id IS NULL
        END)
);

-- One policy per scope and selectors: a second one is a unique violation (HTTP 409).
CREATE UNIQUE INDEX IF NOT EXISTS rate_limit_policy_selectors ON rate_limit_policy (
    scope, coalesce(tenant_id, ''), coalesce(user_id, ''), coalesce(api_key_id, 0),
    coalesce(model_id, ''), coalesce(model_tier_id, ''));

CREATE OR REPLACE FUNCTION sluice_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS rate_limit_policy_touch ON rate_limit_policy;
CREATE TRIGGER rate_limit_policy_touch BEFORE UPDATE ON rate_limit_policy
    FOR EACH ROW EXECUTE FUNCTION sluice_touch_updated_at();

-- Any change to the registry is announced once per statement; instances reload their snapshot.
CREATE OR REPLACE FUNCTION sluice_notify_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sluice_policy_changed', json_build_object('table', TG_TABLE_NAME, 'op', TG_OP)::text);
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenant', 'user_account', 'model_tier', 'model', 'api_key', 'rate_limit_policy'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_notify', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION sluice_notify_changed()', t || '_notify', t);
    END LOOP;
END $$;

-- The schema version (design §5): every migration records itself in its last statement, so applying
-- the files with psql and `sluice-server migrate` leave the same record. sluice-server refuses to
-- start on a schema older or newer than the one it ships.
CREATE TABLE IF NOT EXISTS sluice_schema_version (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO sluice_schema_version (version, name) VALUES (1, '001_create_types_and_tables') ON CONFLICT (version) DO NOTHING;
