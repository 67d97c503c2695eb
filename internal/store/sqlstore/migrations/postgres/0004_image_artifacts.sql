-- Files a build produces for an image and users download: the ACI
-- confidential-computing enforcement policy (Rego) and ARM template. Kept
-- apart from the image rows, which lists read often, because they are large.
CREATE TABLE image_artifacts (
	account_id TEXT COLLATE "C" NOT NULL,
	image_id   TEXT COLLATE "C" NOT NULL,
	kind       TEXT NOT NULL,
	content    BYTEA NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (account_id, image_id, kind),
	FOREIGN KEY (account_id, image_id) REFERENCES images (account_id, id) ON DELETE CASCADE
);
