-- SPDX-License-Identifier: Apache-2.0
-- Usage history (design §13): per-minute aggregates of the decisions, written by every instance
-- as upserts that add (several instances sum into one row). No foreign keys: the history outlives
-- the entities it names, and names callers the registry does not know. Retention: sluice-server
-- deletes minutes older than --history-days. Forward-only and idempotent.
CREATE TABLE IF NOT EXISTS usage_minute (
    minute    timestamptz NOT NULL,
    tenant_id text        NOT NULL DEFAULT '',
    model_id  text        NOT NULL DEFAULT '',
    scope     text        NOT NULL,
    unit      text        NOT NULL,
    allowed   bigint      NOT NULL DEFAULT 0 CHECK (allowed >= 0),
    blocked   bigint      NOT NULL DEFAULT 0 CHECK (blocked >= 0),
    tokens    bigint      NOT NULL DEFAULT 0 CHECK (tokens >= 0),
    PRIMARY KEY (minute, tenant_id, model_id, scope, unit)
);

INSERT INTO sluice_schema_version (version, name) VALUES (6, '006_usage_history') ON CONFLICT (version) DO NOTHING;
