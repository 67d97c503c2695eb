-- A per-account generation number that changes with every write to the
-- account's images (including deletes cascaded from apps), so that caches
-- built from the image set (the Azure CVM selection index) can check in one
-- row read whether they are current. Triggers keep it, so no write path can
-- forget it. No foreign key: a stale row of a deleted account is harmless.
CREATE TABLE image_generations (
	account_id TEXT PRIMARY KEY,
	generation INTEGER NOT NULL
) STRICT;

CREATE TRIGGER images_generation_insert AFTER INSERT ON images BEGIN
	INSERT INTO image_generations (account_id, generation) VALUES (NEW.account_id, 1)
	ON CONFLICT (account_id) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER images_generation_update AFTER UPDATE ON images BEGIN
	INSERT INTO image_generations (account_id, generation) VALUES (NEW.account_id, 1)
	ON CONFLICT (account_id) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER images_generation_delete AFTER DELETE ON images BEGIN
	INSERT INTO image_generations (account_id, generation) VALUES (OLD.account_id, 1)
	ON CONFLICT (account_id) DO UPDATE SET generation = generation + 1;
END;
