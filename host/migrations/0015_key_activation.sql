-- Signing keys are single-winner and published before they sign (issue 13, several replicas).
--
-- sign_from: when a key starts signing. A rotated-in key is published at once but signs only
-- from sign_from, by which time every replica has reloaded the key set and publishes it too.
-- NULL (bootstrap keys and keys made before this migration): from created_at.
ALTER TABLE signing_keys ADD COLUMN sign_from BIGINT;

-- Two replicas started together on an empty database each made their own keys before this
-- migration. Keep the newest active key per algorithm (the one every replica signed with after
-- its first reload) and retire the others a day after they were made, so what they signed in
-- that first moment keeps verifying.
UPDATE signing_keys SET status = 'retiring', retire_at = created_at + 86400
WHERE status = 'active' AND EXISTS (
    SELECT 1 FROM signing_keys AS newer
    WHERE newer.alg = signing_keys.alg AND newer.status = 'active'
      AND (newer.created_at > signing_keys.created_at
           OR (newer.created_at = signing_keys.created_at AND newer.kid > signing_keys.kid))
);

-- One active key per algorithm: a replica that loses the bootstrap race gets a conflict and
-- uses the winner's key.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE status = 'active';
