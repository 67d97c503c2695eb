package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/store"
)

const imageColumns = `id, account_id, app_id, type, platform, version, status, approval_status,
	measurements, settings, measurement_key, credentials_ciphertext, output_digest, error, task_id,
	created_by, created_at, updated_at`

func scanImage(s scanner) (*store.Image, error) {
	var img store.Image
	err := s.Scan(&img.ID, &img.AccountID, &img.AppID, &img.Type, &img.Platform, &img.Version,
		&img.Status, &img.ApprovalStatus,
		objectScan[store.Measurements]{&img.Measurements}, objectScan[store.ImageSettings]{&img.Settings},
		nullTextScan{&img.MeasurementKey}, &img.CredentialsCiphertext, &img.OutputDigest, &img.Error, &img.TaskID,
		&img.CreatedBy, timeScan{&img.CreatedAt}, timeScan{&img.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &img, nil
}

// imageJSON returns the JSON text of img's measurements and settings.
func imageJSON(img *store.Image) (measurements, settings string, err error) {
	if measurements, err = jsonObject(img.Measurements); err != nil {
		return "", "", err
	}
	if settings, err = jsonObject(img.Settings); err != nil {
		return "", "", err
	}
	return measurements, settings, nil
}

// CreateImage inserts img; ConflictError "images.version" for a version
// already used by the app, "images.measurement_key" for measurements
// already registered in the account, ErrNotFound when the account does not
// exist or has no app img.AppID.
//
// The measurements and settings are stored as the JSON encoding/json
// gives, and read back from it: an empty Measurements.PCRs map is omitted
// and reads back as nil. An empty MeasurementKey is stored as NULL, so
// any number of images may lack one; empty CredentialsCiphertext reads
// back as nil.
func (q *queries) CreateImage(ctx context.Context, img *store.Image) error {
	m, s, err := imageJSON(img)
	if err != nil {
		return fmt.Errorf("sqlstore: creating image: %w", err)
	}
	_, err = q.exec(ctx, `INSERT INTO images (`+imageColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		img.ID, img.AccountID, img.AppID, string(img.Type), img.Platform, img.Version,
		string(img.Status), string(img.ApprovalStatus), m, s,
		nullText(img.MeasurementKey), nullBlob(img.CredentialsCiphertext), img.OutputDigest, img.Error, img.TaskID,
		img.CreatedBy, q.d.time(img.CreatedAt), q.d.time(img.UpdatedAt))
	return wrap("creating image", err)
}

// GetImage returns the account's image with ID imageID.
func (q *queries) GetImage(ctx context.Context, accountID, imageID string) (*store.Image, error) {
	img, err := scanImage(q.queryRow(ctx, `SELECT `+imageColumns+` FROM images
		WHERE account_id = ? AND id = ?`, accountID, imageID))
	if err != nil {
		return nil, wrap("getting image", err)
	}
	return img, nil
}

// ListImages lists the account's images in ID order, narrowed by f.
func (q *queries) ListImages(ctx context.Context, accountID string, f store.ImageFilter, p store.Page) ([]*store.Image, error) {
	query := `SELECT ` + imageColumns + ` FROM images WHERE account_id = ?`
	args := []any{accountID}
	for _, c := range []struct{ column, value string }{
		{"app_id", f.AppID},
		{"type", string(f.Type)},
		{"status", string(f.Status)},
		{"approval_status", string(f.ApprovalStatus)},
	} {
		if c.value != "" {
			query += ` AND ` + c.column + ` = ?`
			args = append(args, c.value)
		}
	}
	query, args = paged(query, args, "id", p)
	rows, err := q.query(ctx, query, args...)
	imgs, err := collect(rows, err, scanImage)
	if err != nil {
		return nil, wrap("listing images", err)
	}
	return imgs, nil
}

// GetImageByMeasurementKey returns the account's image whose measurement
// key is key. No image has the empty key.
func (q *queries) GetImageByMeasurementKey(ctx context.Context, accountID, key string) (*store.Image, error) {
	img, err := scanImage(q.queryRow(ctx, `SELECT `+imageColumns+` FROM images
		WHERE account_id = ? AND measurement_key = ?`, accountID, key))
	if err != nil {
		return nil, wrap("getting image by measurement key", err)
	}
	return img, nil
}

// ListImagesByType returns every image of the account of type t, in ID
// order.
func (q *queries) ListImagesByType(ctx context.Context, accountID string, t store.AppType) ([]*store.Image, error) {
	rows, err := q.query(ctx, `SELECT `+imageColumns+` FROM images
		WHERE account_id = ? AND type = ? ORDER BY id`, accountID, string(t))
	imgs, err := collect(rows, err, scanImage)
	if err != nil {
		return nil, wrap("listing images by type", err)
	}
	return imgs, nil
}

// UpdateImage replaces the mutable fields of the image with img.ID in
// img.AccountID: status, approval status, measurements, measurement key,
// output digest, error, task ID and UpdatedAt. The app, type, platform,
// version, settings, credentials and creator never change.
// ConflictError "images.measurement_key" when another image of the
// account has the new key.
func (q *queries) UpdateImage(ctx context.Context, img *store.Image) error {
	m, err := jsonObject(img.Measurements)
	if err != nil {
		return fmt.Errorf("sqlstore: updating image: %w", err)
	}
	return q.execOne(ctx, "updating image", `UPDATE images SET
		status = ?, approval_status = ?, measurements = ?, measurement_key = ?,
		output_digest = ?, error = ?, task_id = ?, updated_at = ?
		WHERE account_id = ? AND id = ?`,
		string(img.Status), string(img.ApprovalStatus), m, nullText(img.MeasurementKey),
		img.OutputDigest, img.Error, img.TaskID, q.d.time(img.UpdatedAt),
		img.AccountID, img.ID)
}

// DeleteImage deletes the account's image with ID imageID, and its jobs.
// Its tasks stay: the caller deletes the pending ones
// (DeletePendingTasksFor).
func (q *queries) DeleteImage(ctx context.Context, accountID, imageID string) error {
	return q.execOne(ctx, "deleting image", `DELETE FROM images WHERE account_id = ? AND id = ?`, accountID, imageID)
}

// CountAppImages counts the images of the account's app appID.
func (q *queries) CountAppImages(ctx context.Context, accountID, appID string) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT count(*) FROM images WHERE account_id = ? AND app_id = ?`,
		accountID, appID).Scan(&n)
	if err != nil {
		return 0, wrap("counting app images", err)
	}
	return n, nil
}

// ImageSetStamp returns the account's image generation, which triggers
// bump on every write to its images (see migration 0003). It changes with
// any image of the account, which includes every change of type t.
func (q *queries) ImageSetStamp(ctx context.Context, accountID string, t store.AppType) (string, error) {
	var gen int64
	err := q.queryRow(ctx, `SELECT generation FROM image_generations WHERE account_id = ?`, accountID).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return "0", nil
	}
	if err != nil {
		return "", wrap("reading the image generation", err)
	}
	return strconv.FormatInt(gen, 10), nil
}

// PutImageArtifact stores or replaces a build output of the account's image.
func (q *queries) PutImageArtifact(ctx context.Context, accountID, imageID, kind string, content []byte, at time.Time) error {
	if content == nil {
		content = []byte{}
	}
	_, err := q.exec(ctx, `INSERT INTO image_artifacts (account_id, image_id, kind, content, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account_id, image_id, kind) DO UPDATE SET content = excluded.content, updated_at = excluded.updated_at`,
		accountID, imageID, kind, content, q.d.time(at))
	return wrap("storing image artifact", err)
}

// GetImageArtifact returns a build output of the account's image.
func (q *queries) GetImageArtifact(ctx context.Context, accountID, imageID, kind string) ([]byte, error) {
	var b []byte
	err := q.queryRow(ctx, `SELECT content FROM image_artifacts WHERE account_id = ? AND image_id = ? AND kind = ?`,
		accountID, imageID, kind).Scan(&b)
	if err != nil {
		return nil, wrap("getting image artifact", err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

const jobColumns = `id, account_id, image_id, kind, status, progress, log, attempts, lease_until,
	lease_owner, next_attempt_at, error, created_at, updated_at`

func scanJob(s scanner) (*store.Job, error) {
	var j store.Job
	err := s.Scan(&j.ID, &j.AccountID, &j.ImageID, &j.Kind, &j.Status, &j.Progress,
		listScan[string]{&j.Log}, &j.Attempts, nullTimeScan{&j.LeaseUntil},
		&j.LeaseOwner, timeScan{&j.NextAttemptAt}, &j.Error,
		timeScan{&j.CreatedAt}, timeScan{&j.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// CreateJob inserts j; ErrNotFound when the account has no image
// j.ImageID.
func (q *queries) CreateJob(ctx context.Context, j *store.Job) error {
	_, err := q.exec(ctx, `INSERT INTO jobs (`+jobColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.AccountID, j.ImageID, j.Kind, string(j.Status), j.Progress,
		jsonList(j.Log), j.Attempts, q.d.nullTime(j.LeaseUntil),
		j.LeaseOwner, q.d.time(j.NextAttemptAt), j.Error,
		q.d.time(j.CreatedAt), q.d.time(j.UpdatedAt))
	return wrap("creating job", err)
}

// GetJobForImage returns the newest job (by CreatedAt, then ID) of the
// account's image imageID.
func (q *queries) GetJobForImage(ctx context.Context, accountID, imageID string) (*store.Job, error) {
	j, err := scanJob(q.queryRow(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE account_id = ? AND image_id = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`, accountID, imageID))
	if err != nil {
		return nil, wrap("getting job for image", err)
	}
	return j, nil
}

// ClaimJob leases the oldest runnable job to worker. The inner SELECT picks
// it and the UPDATE takes it in one statement; on PostgreSQL SKIP LOCKED
// lets concurrent claimers pass over a row another one is taking, and the
// re-checked WHERE makes a lost race update nothing (then: try again).
func (q *queries) ClaimJob(ctx context.Context, worker string, kinds []string, now, leaseUntil time.Time) (*store.Job, error) {
	if len(kinds) == 0 {
		return nil, wrap("claiming a job", sql.ErrNoRows)
	}
	lock := ""
	if q.d == postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	// Kinds are the server's own constants, never input: inlined as literals.
	quoted := make([]string, len(kinds))
	for i, k := range kinds {
		if strings.ContainsAny(k, "'\\") {
			return nil, fmt.Errorf("sqlstore: bad job kind %q", k)
		}
		quoted[i] = "'" + k + "'"
	}
	runnable := `kind IN (` + strings.Join(quoted, ", ") + `) AND ((status = 'queued' AND next_attempt_at <= ?) OR (status = 'running' AND lease_until < ?))`
	for range 5 {
		j, err := scanJob(q.writeRow(ctx, `UPDATE jobs SET status = 'running', lease_owner = ?, lease_until = ?,
			attempts = attempts + 1, updated_at = ?
			WHERE id = (SELECT id FROM jobs WHERE `+runnable+` ORDER BY created_at, id LIMIT 1`+lock+`)
			AND (`+runnable+`)
			RETURNING `+jobColumns,
			worker, q.d.time(leaseUntil), q.d.time(now),
			q.d.time(now), q.d.time(now), q.d.time(now), q.d.time(now)))
		if err == nil {
			return j, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, wrap("claiming a job", err)
		}
		// Nothing runnable, or a concurrent claimer won the row: check which.
		var n int
		if err := q.queryRow(ctx, `SELECT count(*) FROM jobs WHERE `+runnable, q.d.time(now), q.d.time(now)).Scan(&n); err != nil {
			return nil, wrap("claiming a job", err)
		}
		if n == 0 {
			break
		}
	}
	return nil, wrap("claiming a job", sql.ErrNoRows)
}

// UpdateJob saves a job the worker still holds: the claim is named by its
// owner and its attempt number, so a worker whose lease ran out and was
// claimed again, even by itself, cannot write over the newer claim.
func (q *queries) UpdateJob(ctx context.Context, worker string, j *store.Job) error {
	res, err := q.exec(ctx, `UPDATE jobs SET status = ?, progress = ?, log = ?, error = ?, next_attempt_at = ?,
		lease_until = ?, lease_owner = ?, updated_at = ?
		WHERE account_id = ? AND id = ? AND lease_owner = ? AND attempts = ? AND status = 'running'`,
		string(j.Status), j.Progress, jsonList(j.Log), j.Error, q.d.time(j.NextAttemptAt),
		q.d.nullTime(j.LeaseUntil), j.LeaseOwner, q.d.time(j.UpdatedAt),
		j.AccountID, j.ID, worker, j.Attempts)
	if err != nil {
		return wrap("updating job", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("updating job", err)
	}
	if n == 0 {
		return &store.ConflictError{Constraint: "jobs.lease"}
	}
	return nil
}
