-- Accounts, people and their access; registry credentials; applications.
--
-- Times are TEXT in a fixed-width UTC format (2006-01-02T15:04:05.000000Z),
-- written by sqlstore itself, so that comparing two times as text compares
-- them as times. JSON columns hold arrays or objects, never NULL.

CREATE TABLE accounts (
	id                        TEXT PRIMARY KEY,
	name                      TEXT NOT NULL,
	trust_domain              TEXT NOT NULL,
	required_approvals        INTEGER NOT NULL,
	allow_self_approval       INTEGER NOT NULL,
	azure_cvm_pcr_priority    TEXT NOT NULL, -- JSON array of PCR indexes
	sgx_accepted_tcb_statuses TEXT NOT NULL, -- JSON array of strings
	created_at                TEXT NOT NULL,
	updated_at                TEXT NOT NULL,
	CONSTRAINT accounts_name_key UNIQUE (name)
) STRICT;

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL, -- as given
	email_key     TEXT NOT NULL, -- lower-cased, for case-insensitive uniqueness and look-up
	password_hash TEXT NOT NULL,
	is_admin      INTEGER NOT NULL,
	created_at    TEXT NOT NULL,
	CONSTRAINT users_email_key UNIQUE (email_key)
) STRICT;

CREATE TABLE members (
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	CONSTRAINT members_pkey PRIMARY KEY (account_id, user_id)
) STRICT;

CREATE INDEX members_user_idx ON members (user_id, account_id);

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash BLOB NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
) STRICT;

CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE tokens (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	role         TEXT NOT NULL,
	token_hash   BLOB NOT NULL,
	created_at   TEXT NOT NULL,
	expires_at   TEXT,
	last_used_at TEXT,
	CONSTRAINT tokens_token_hash_key UNIQUE (token_hash)
) STRICT;

CREATE INDEX tokens_user_idx ON tokens (user_id, id);
CREATE INDEX tokens_account_idx ON tokens (account_id, id);

CREATE TABLE login_failures (
	id  INTEGER PRIMARY KEY,
	key TEXT NOT NULL,
	at  TEXT NOT NULL
) STRICT;

CREATE INDEX login_failures_key_at_idx ON login_failures (key, at);
CREATE INDEX login_failures_at_idx ON login_failures (at);

CREATE TABLE registries (
	id                  TEXT PRIMARY KEY,
	account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	url                 TEXT NOT NULL,
	username            TEXT NOT NULL,
	description         TEXT NOT NULL,
	password_ciphertext BLOB NOT NULL,
	created_at          TEXT NOT NULL,
	updated_at          TEXT NOT NULL,
	CONSTRAINT registries_account_url_key UNIQUE (account_id, url)
) STRICT;

CREATE INDEX registries_account_idx ON registries (account_id, id);

CREATE TABLE apps (
	id                     TEXT PRIMARY KEY,
	account_id             TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name                   TEXT NOT NULL,
	type                   TEXT NOT NULL,
	description            TEXT NOT NULL,
	domains                TEXT NOT NULL, -- JSON array of strings
	approved_domains       TEXT NOT NULL, -- JSON array of strings
	pending_domain_task_id TEXT NOT NULL, -- '' when no domain task is pending
	input_image_name       TEXT NOT NULL,
	output_image_name      TEXT NOT NULL,
	cert_enabled           INTEGER NOT NULL,
	cert_validity_days     INTEGER NOT NULL,
	cert_key_path          TEXT NOT NULL,
	cert_cert_path         TEXT NOT NULL,
	labels                 TEXT NOT NULL, -- JSON object of strings
	created_at             TEXT NOT NULL,
	updated_at             TEXT NOT NULL,
	CONSTRAINT apps_account_name_key UNIQUE (account_id, name)
) STRICT;

CREATE INDEX apps_account_idx ON apps (account_id, id);
