-- Images and their build jobs; approval tasks and their decisions; the
-- audit log.
--
-- An image and a job name their account twice, directly and through their
-- parent (app, image): the composite foreign keys keep a row from pointing
-- at another account's parent. The audit log has no foreign key to
-- accounts: it is history, kept after the account is deleted.

-- The parent key of the images' (account_id, app_id) foreign key. It also
-- serves what apps_account_idx served.
CREATE UNIQUE INDEX apps_account_id_key ON apps (account_id, id);
DROP INDEX apps_account_idx;

CREATE TABLE images (
	id                     TEXT PRIMARY KEY,
	account_id             TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	app_id                 TEXT NOT NULL,
	type                   TEXT NOT NULL,
	platform               TEXT NOT NULL,
	version                TEXT NOT NULL,
	status                 TEXT NOT NULL,
	approval_status        TEXT NOT NULL,
	measurements           TEXT NOT NULL, -- JSON object (store.Measurements)
	settings               TEXT NOT NULL, -- JSON object (store.ImageSettings)
	measurement_key        TEXT,          -- NULL until known, so that many images may lack one
	credentials_ciphertext BLOB,          -- NULL when there are no inline credentials
	output_digest          TEXT NOT NULL,
	error                  TEXT NOT NULL,
	task_id                TEXT NOT NULL, -- '' when no task
	created_by             TEXT NOT NULL,
	created_at             TEXT NOT NULL,
	updated_at             TEXT NOT NULL,
	CONSTRAINT images_account_id_key UNIQUE (account_id, id),
	CONSTRAINT images_app_version_key UNIQUE (app_id, version),
	CONSTRAINT images_account_measurement_key_key UNIQUE (account_id, measurement_key),
	CONSTRAINT images_app_fkey FOREIGN KEY (account_id, app_id)
		REFERENCES apps (account_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX images_account_type_idx ON images (account_id, type, id);

CREATE TABLE jobs (
	id          TEXT PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	image_id    TEXT NOT NULL,
	kind        TEXT NOT NULL,
	status      TEXT NOT NULL,
	progress    INTEGER NOT NULL,
	log         TEXT NOT NULL, -- JSON array of strings
	attempts    INTEGER NOT NULL,
	lease_until TEXT,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	CONSTRAINT jobs_image_fkey FOREIGN KEY (account_id, image_id)
		REFERENCES images (account_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX jobs_image_idx ON jobs (account_id, image_id, created_at, id);

-- A task names its subject (an image or an app) without a foreign key, the
-- subject being one of two tables: whoever deletes a subject deletes its
-- pending tasks.
CREATE TABLE tasks (
	id                 TEXT PRIMARY KEY,
	account_id         TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	kind               TEXT NOT NULL,
	subject_type       TEXT NOT NULL,
	subject_id         TEXT NOT NULL,
	status             TEXT NOT NULL,
	required_approvals INTEGER NOT NULL,
	domains_added      TEXT NOT NULL, -- JSON array of strings
	domains_removed    TEXT NOT NULL, -- JSON array of strings
	proposed_domains   TEXT NOT NULL, -- JSON array of strings
	created_by         TEXT NOT NULL,
	created_at         TEXT NOT NULL,
	resolved_at        TEXT
) STRICT;

CREATE INDEX tasks_account_idx ON tasks (account_id, id);
CREATE INDEX tasks_subject_idx ON tasks (account_id, subject_type, subject_id);

CREATE TABLE task_decisions (
	seq      INTEGER PRIMARY KEY, -- insertion order, which breaks ties of at
	task_id  TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	decision TEXT NOT NULL,
	comment  TEXT NOT NULL,
	at       TEXT NOT NULL,
	CONSTRAINT task_decisions_task_user_key UNIQUE (task_id, user_id)
) STRICT;

CREATE INDEX task_decisions_user_idx ON task_decisions (user_id);

CREATE TABLE audit_events (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL, -- no foreign key: the log outlives the account
	seq          INTEGER NOT NULL,
	at           TEXT NOT NULL,
	actor_type   TEXT NOT NULL,
	actor_id     TEXT NOT NULL,
	action       TEXT NOT NULL,
	subject_type TEXT NOT NULL,
	subject_id   TEXT NOT NULL,
	outcome      TEXT NOT NULL,
	details      TEXT NOT NULL, -- JSON, byte for byte as given: it is hashed
	prev_hash    TEXT NOT NULL,
	hash         TEXT NOT NULL,
	CONSTRAINT audit_events_account_seq_key UNIQUE (account_id, seq)
) STRICT;
