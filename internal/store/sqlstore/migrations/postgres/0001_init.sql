-- Accounts, people and their access; registry credentials; applications.
--
-- JSON columns are TEXT holding arrays or objects, never NULL; the store
-- reads and writes them whole. ID columns use the "C" collation so that they
-- sort byte by byte, as in SQLite, whatever the database's locale: lists
-- page by ID.

CREATE TABLE accounts (
	id                        TEXT COLLATE "C" PRIMARY KEY,
	name                      TEXT NOT NULL,
	trust_domain              TEXT NOT NULL,
	required_approvals        INTEGER NOT NULL,
	allow_self_approval       BOOLEAN NOT NULL,
	azure_cvm_pcr_priority    TEXT NOT NULL, -- JSON array of PCR indexes
	sgx_accepted_tcb_statuses TEXT NOT NULL, -- JSON array of strings
	created_at                TIMESTAMPTZ NOT NULL,
	updated_at                TIMESTAMPTZ NOT NULL,
	CONSTRAINT accounts_name_key UNIQUE (name)
);

CREATE TABLE users (
	id            TEXT COLLATE "C" PRIMARY KEY,
	email         TEXT NOT NULL, -- as given
	email_key     TEXT NOT NULL, -- lower-cased, for case-insensitive uniqueness and look-up
	password_hash TEXT NOT NULL,
	is_admin      BOOLEAN NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	CONSTRAINT users_email_key UNIQUE (email_key)
);

CREATE TABLE members (
	account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	CONSTRAINT members_pkey PRIMARY KEY (account_id, user_id)
);

CREATE INDEX members_user_idx ON members (user_id, account_id);

CREATE TABLE sessions (
	id         TEXT COLLATE "C" PRIMARY KEY,
	user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash BYTEA NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE tokens (
	id           TEXT COLLATE "C" PRIMARY KEY,
	name         TEXT NOT NULL,
	user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	account_id   TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	role         TEXT NOT NULL,
	token_hash   BYTEA NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	expires_at   TIMESTAMPTZ,
	last_used_at TIMESTAMPTZ,
	CONSTRAINT tokens_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX tokens_user_idx ON tokens (user_id, id);
CREATE INDEX tokens_account_idx ON tokens (account_id, id);

CREATE TABLE login_failures (
	id  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key TEXT NOT NULL,
	at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX login_failures_key_at_idx ON login_failures (key, at);
CREATE INDEX login_failures_at_idx ON login_failures (at);

CREATE TABLE registries (
	id                  TEXT COLLATE "C" PRIMARY KEY,
	account_id          TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	url                 TEXT NOT NULL,
	username            TEXT NOT NULL,
	description         TEXT NOT NULL,
	password_ciphertext BYTEA NOT NULL,
	created_at          TIMESTAMPTZ NOT NULL,
	updated_at          TIMESTAMPTZ NOT NULL,
	CONSTRAINT registries_account_url_key UNIQUE (account_id, url)
);

CREATE INDEX registries_account_idx ON registries (account_id, id);

CREATE TABLE apps (
	id                     TEXT COLLATE "C" PRIMARY KEY,
	account_id             TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name                   TEXT NOT NULL,
	type                   TEXT NOT NULL,
	description            TEXT NOT NULL,
	domains                TEXT NOT NULL, -- JSON array of strings
	approved_domains       TEXT NOT NULL, -- JSON array of strings
	pending_domain_task_id TEXT COLLATE "C" NOT NULL, -- '' when no domain task is pending
	input_image_name       TEXT NOT NULL,
	output_image_name      TEXT NOT NULL,
	cert_enabled           BOOLEAN NOT NULL,
	cert_validity_days     INTEGER NOT NULL,
	cert_key_path          TEXT NOT NULL,
	cert_cert_path         TEXT NOT NULL,
	labels                 TEXT NOT NULL, -- JSON object of strings
	created_at             TIMESTAMPTZ NOT NULL,
	updated_at             TIMESTAMPTZ NOT NULL,
	CONSTRAINT apps_account_name_key UNIQUE (account_id, name)
);

CREATE INDEX apps_account_idx ON apps (account_id, id);
