-- SPDX-License-Identifier: Apache-2.0
-- The inference door (design §15): a model may name its own upstream (the model server or router
-- that serves it), overriding the server's --upstream for that model. NULL: the server's.
-- Forward-only and idempotent.
ALTER TABLE model ADD COLUMN IF NOT EXISTS upstream text;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'model_upstream_http') THEN
        ALTER TABLE model ADD CONSTRAINT model_upstream_http CHECK (upstream IS NULL OR upstream ~ '^http://[^/?#]+(/[^?#]*)?$');
    END IF;
END $$;

INSERT INTO sluice_schema_version (version, name) VALUES (9, '009_model_upstream') ON CONFLICT (version) DO NOTHING;
