-- SPDX-License-Identifier: Apache-2.0
-- The demo registry (design §5): exactly the rows of resources/demo-registry.json, which the
-- embedded mode serves (a test compares the two). NOT a migration: it is applied only when asked,
-- `sluice-server migrate --demo` (or psql -f after the migrations). Its API key is published
-- (plaintext sluice-demo-free-co-key; only its SHA-256 is stored), so never seed a registry that
-- serves real traffic with it. Needs the schema of every migration. Idempotent: safe to run again.

INSERT INTO tenant (id, name) VALUES
    ('enterprise_co', 'Enterprise Co'),
    ('free_co', 'Free Co')
ON CONFLICT (id) DO NOTHING;

INSERT INTO user_account (id, tenant_id) VALUES
    ('ent-user-1', 'enterprise_co'),
    ('ent-user-2', 'enterprise_co'),
    ('free-user-1', 'free_co')
ON CONFLICT (id) DO NOTHING;

INSERT INTO model_tier (id, description) VALUES
    ('premium', 'Expensive, high-capacity models like GPT-4'),
    ('standard', 'Mid-tier models'),
    ('free', 'Cheaper/smaller models')
ON CONFLICT (id) DO NOTHING;

INSERT INTO model (id, tier_id) VALUES
    ('gpt-4o', 'premium'),
    ('gpt-4o-mini', 'standard'),
    ('tiny-model', 'free')
ON CONFLICT (id) DO NOTHING;

INSERT INTO api_key (id, tenant_id, user_id, key_hash, prefix) VALUES
    (1, 'free_co', NULL, decode('de0f152d49113fbd664a07b56873fc4acb3fa86a05fb941d33085e88200537e7', 'hex'), 'sluice-d')
ON CONFLICT (id) DO NOTHING;

INSERT INTO rate_limit_policy (id, scope, tenant_id, user_id, api_key_id, model_id, model_tier_id,
                               window_seconds, limit_value, description) VALUES
    (1, 'GLOBAL',     NULL,            NULL,         NULL, NULL,     NULL,       3600, 1000000, 'Everything, one counter'),
    (2, 'TENANT',     'enterprise_co', NULL,         NULL, NULL,     NULL,       3600, 500,     'Enterprise SLA'),
    (3, 'TENANT',     'free_co',       NULL,         NULL, NULL,     NULL,       3600, 50,      'Free tenant'),
    (4, 'API_KEY',    NULL,            NULL,         1,    NULL,     NULL,       3600, 20,      'free_co demo key'),
    (5, 'MODEL_TIER', NULL,            NULL,         NULL, NULL,     'premium',  3600, 1000,    'Premium GPU pool'),
    (6, 'MODEL_TIER', NULL,            NULL,         NULL, NULL,     'standard', 3600, 100,     'Standard GPU pool'),
    (7, 'MODEL_TIER', NULL,            NULL,         NULL, NULL,     'free',     3600, 10,      'Free GPU pool'),
    (8, 'USER_MODEL', NULL,            NULL,         NULL, NULL,     NULL,       3600, 100,     'Base rule: per user and model'),
    (9, 'USER_MODEL', NULL,            'ent-user-2', NULL, 'gpt-4o', NULL,       3600, 10,      'ent-user-2 on gpt-4o')
ON CONFLICT DO NOTHING;

-- A token bucket and a shadow policy on gpt-4o-mini (design §11).
INSERT INTO rate_limit_policy (id, scope, model_id, window_seconds, limit_value, algorithm, burst, shadow, description) VALUES
    (10, 'USER_MODEL', 'gpt-4o-mini', 60, 60, 'token_bucket', 10,   false, 'gpt-4o-mini users: 60 per minute, bursts of 10'),
    (11, 'MODEL',      'gpt-4o-mini', 60, 30, 'sliding_log',  NULL, true,  'Trying 30 per minute on gpt-4o-mini before enforcing it')
ON CONFLICT DO NOTHING;

-- Priority classes and the GPU pool of the demo (design §14): enterprise_co is critical, the free
-- tier sheddable, everyone else standard; one pool serves the three models (no load source: its
-- load is pushed, PUT /admin/pools/gpu-main/load).
UPDATE tenant SET priority = 'critical' WHERE id = 'enterprise_co' AND priority IS NULL;
UPDATE model_tier SET priority = 'sheddable' WHERE id = 'free' AND priority IS NULL;
INSERT INTO pool (name, queue_threshold, kv_cache_threshold) VALUES ('gpu-main', 5, 0.8) ON CONFLICT (name) DO NOTHING;
UPDATE model SET pool_name = 'gpu-main' WHERE id IN ('gpt-4o', 'gpt-4o-mini', 'tiny-model') AND pool_name IS NULL;

-- Asked for: the demo key works (migration 007 revokes it in databases that were seeded unasked).
UPDATE api_key SET revoked_at = NULL
WHERE id = 1 AND key_hash = decode('de0f152d49113fbd664a07b56873fc4acb3fa86a05fb941d33085e88200537e7', 'hex');

-- New rows made through the admin API get ids after the seeded ones.
SELECT setval(pg_get_serial_sequence('api_key', 'id'), GREATEST((SELECT max(id) FROM api_key), 1));
SELECT setval(pg_get_serial_sequence('rate_limit_policy', 'id'), GREATEST((SELECT max(id) FROM rate_limit_policy), 1));
