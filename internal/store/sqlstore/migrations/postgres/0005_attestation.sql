-- Attestation challenges, account CAs and the certificates they issue.

CREATE TABLE nonces (
	hash       BYTEA PRIMARY KEY,
	account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX nonces_expires_at_idx ON nonces (expires_at);

CREATE TABLE cas (
	account_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
	cert_der       BYTEA NOT NULL,
	key_ciphertext BYTEA NOT NULL,
	created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE certificates (
	id                TEXT COLLATE "C" PRIMARY KEY,
	account_id        TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	app_id            TEXT COLLATE "C" NOT NULL,
	image_id          TEXT COLLATE "C" NOT NULL, -- no foreign key: a revoked certificate outlives its image
	serial            TEXT NOT NULL,
	common_name       TEXT NOT NULL,
	dns_names         TEXT NOT NULL, -- JSON array
	uris              TEXT NOT NULL, -- JSON array
	not_before        TIMESTAMPTZ NOT NULL,
	not_after         TIMESTAMPTZ NOT NULL,
	status            TEXT NOT NULL,
	revoked_at        TIMESTAMPTZ,
	revocation_reason TEXT NOT NULL,
	der               BYTEA NOT NULL,
	created_at        TIMESTAMPTZ NOT NULL,
	CONSTRAINT certificates_account_serial_key UNIQUE (account_id, serial)
);

CREATE INDEX certificates_account_idx ON certificates (account_id, id);
CREATE INDEX certificates_image_idx ON certificates (account_id, image_id, status);
