-- A per-account generation number that changes with every write to the
-- account's images (including deletes cascaded from apps), so that caches
-- built from the image set (the Azure CVM selection index) can check in one
-- row read whether they are current. A trigger keeps it, so no write path
-- can forget it. No foreign key: a stale row of a deleted account is harmless.
CREATE TABLE image_generations (
	account_id TEXT COLLATE "C" PRIMARY KEY,
	generation BIGINT NOT NULL
);

CREATE FUNCTION bump_image_generation() RETURNS trigger AS $$
BEGIN
	INSERT INTO image_generations (account_id, generation)
	VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.account_id ELSE NEW.account_id END, 1)
	ON CONFLICT (account_id) DO UPDATE SET generation = image_generations.generation + 1;
	RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER images_generation AFTER INSERT OR UPDATE OR DELETE ON images
	FOR EACH ROW EXECUTE FUNCTION bump_image_generation();
