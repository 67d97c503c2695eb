-- Files a build produces for an image and users download: the ACI
-- confidential-computing enforcement policy (Rego) and ARM template. Kept
-- apart from the image rows, which lists read often, because they are large.
CREATE TABLE image_artifacts (
	account_id TEXT NOT NULL,
	image_id   TEXT NOT NULL,
	kind       TEXT NOT NULL,
	content    BLOB NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (account_id, image_id, kind),
	FOREIGN KEY (account_id, image_id) REFERENCES images (account_id, id) ON DELETE CASCADE
) STRICT;
