-- Attestation challenges, account CAs and the certificates they issue.

CREATE TABLE nonces (
	hash       BLOB PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
) STRICT;

CREATE INDEX nonces_expires_at_idx ON nonces (expires_at);

CREATE TABLE cas (
	account_id     TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
	cert_der       BLOB NOT NULL,
	key_ciphertext BLOB NOT NULL,
	created_at     TEXT NOT NULL
) STRICT;

CREATE TABLE certificates (
	id                TEXT PRIMARY KEY,
	account_id        TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	app_id            TEXT NOT NULL,
	image_id          TEXT NOT NULL, -- no foreign key: a revoked certificate outlives its image
	serial            TEXT NOT NULL,
	common_name       TEXT NOT NULL,
	dns_names         TEXT NOT NULL, -- JSON array
	uris              TEXT NOT NULL, -- JSON array
	not_before        TEXT NOT NULL,
	not_after         TEXT NOT NULL,
	status            TEXT NOT NULL,
	revoked_at        TEXT,
	revocation_reason TEXT NOT NULL,
	der               BLOB NOT NULL,
	created_at        TEXT NOT NULL,
	CONSTRAINT certificates_account_serial_key UNIQUE (account_id, serial)
) STRICT;

CREATE INDEX certificates_account_idx ON certificates (account_id, id);
CREATE INDEX certificates_image_idx ON certificates (account_id, image_id, status);
