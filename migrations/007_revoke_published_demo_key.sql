-- SPDX-License-Identifier: Apache-2.0
-- Until schema versions existed, the demo registry was migration 002 and so went into every
-- database, with its API key whose plaintext is published (sluice-demo-free-co-key). That key is
-- revoked here wherever it is still active; the demo's other rows are ordinary data an operator may
-- keep or delete. `sluice-server migrate --demo` (examples/demo-seed.sql) makes it active again on
-- purpose. Forward-only and idempotent.
UPDATE api_key SET revoked_at = now()
WHERE key_hash = decode('de0f152d49113fbd664a07b56873fc4acb3fa86a05fb941d33085e88200537e7', 'hex')
  AND revoked_at IS NULL;

INSERT INTO sluice_schema_version (version, name) VALUES (7, '007_revoke_published_demo_key') ON CONFLICT (version) DO NOTHING;
