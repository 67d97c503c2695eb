// Package audit keeps each account's append-only, hash-chained audit log:
// every event's hash is the SHA-256 of the previous event's hash and the
// event's canonical JSON, so that editing, removing or reordering a stored
// event breaks the chain at that event, which Verify reports. Events are
// appended in the same transaction as the change they record.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/store"
)

// GenesisHash is the prev_hash of an account's first event.
var GenesisHash = strings.Repeat("0", 64)

// Actor types.
const (
	ActorUser     = "user"
	ActorWorkload = "workload"
	ActorSystem   = "system"
)

// Outcomes.
const (
	Success = "success"
	Failure = "failure"
)

// Actor is who did something.
type Actor struct {
	Type string
	ID   string
	// TokenID is set when a user acted through an API token; it is recorded
	// in the event's details.
	TokenID string
}

type actorKey struct{}

// WithActor returns ctx carrying the actor of the request.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the request's actor, or the system.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Type: ActorSystem}
}

// Event is what a service records; Append adds the chain fields.
type Event struct {
	AccountID   string
	Action      string // e.g. "app.create", "task.approve", "session.create"
	SubjectType string
	SubjectID   string
	Outcome     string // default Success
	// Actor overrides the context's actor when set.
	Actor   *Actor
	Details map[string]any
}

// Log appends to and verifies audit chains.
type Log struct {
	now func() time.Time
}

// New returns a Log; now defaults to time.Now.
func New(now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{now: now}
}

// Append adds ev to its account's chain. tx must be a transaction: the
// chain's head is locked so that concurrent appends line up.
func (l *Log) Append(ctx context.Context, tx store.Store, ev Event) error {
	actor := ActorFrom(ctx)
	if ev.Actor != nil {
		actor = *ev.Actor
	}
	details := map[string]any{}
	for k, v := range ev.Details {
		details[k] = v
	}
	if actor.TokenID != "" {
		details["token_id"] = actor.TokenID
	}
	db, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit: encoding details: %w", err)
	}
	if err := tx.Lock(ctx, "audit:"+ev.AccountID); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	prev, seq := GenesisHash, int64(1)
	last, err := tx.LastAudit(ctx, ev.AccountID)
	switch {
	case err == nil:
		prev, seq = last.Hash, last.Seq+1
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("audit: reading the chain head: %w", err)
	}
	outcome := ev.Outcome
	if outcome == "" {
		outcome = Success
	}
	e := &store.AuditEvent{
		ID: ids.New(), AccountID: ev.AccountID, Seq: seq, At: l.now().UTC().Truncate(time.Microsecond),
		ActorType: actor.Type, ActorID: actor.ID, Action: ev.Action,
		SubjectType: ev.SubjectType, SubjectID: ev.SubjectID, Outcome: outcome,
		Details: db, PrevHash: prev,
	}
	if e.Hash, err = Hash(e); err != nil {
		return err
	}
	if err := tx.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit: appending: %w", err)
	}
	return nil
}

// canonical is the hashed form of an event: fixed field order, UTC times
// with microseconds, details as stored.
type canonical struct {
	EventID   string          `json:"event_id"`
	AccountID string          `json:"account_id"`
	Seq       int64           `json:"seq"`
	At        string          `json:"at"`
	Actor     [2]string       `json:"actor"`
	Action    string          `json:"action"`
	Subject   [2]string       `json:"subject"`
	Outcome   string          `json:"outcome"`
	Details   json.RawMessage `json:"details"`
}

// Hash computes an event's hash from its prev_hash and canonical JSON.
func Hash(e *store.AuditEvent) (string, error) {
	details := e.Details
	if !json.Valid(details) {
		// A tampered row may hold anything: hash it as a JSON string so
		// that verification reports a mismatch instead of failing.
		q, _ := json.Marshal(string(details))
		details = q
	}
	c, err := json.Marshal(canonical{
		EventID: e.ID, AccountID: e.AccountID, Seq: e.Seq,
		At:    e.At.UTC().Format("2006-01-02T15:04:05.000000Z"),
		Actor: [2]string{e.ActorType, e.ActorID}, Action: e.Action,
		Subject: [2]string{e.SubjectType, e.SubjectID}, Outcome: e.Outcome, Details: details,
	})
	if err != nil {
		return "", fmt.Errorf("audit: canonical form: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write([]byte{'\n'})
	h.Write(c)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Result is the outcome of Verify.
type Result struct {
	OK     bool
	Events int
	// The first event that does not verify, and why.
	FirstBadEventID string
	FirstBadSeq     int64
	Reason          string
}

// Verify walks an account's chain from the first event and reports the
// first event whose sequence, link or hash is wrong.
func (l *Log) Verify(ctx context.Context, st store.Audit, accountID string) (Result, error) {
	var r Result
	prev, want := GenesisHash, int64(1)
	page := store.Page{Limit: 500}
	for {
		rows, err := st.ListAudit(ctx, accountID, store.AuditFilter{}, page)
		if err != nil {
			return r, err
		}
		for _, e := range rows {
			bad := ""
			switch {
			case e.Seq != want:
				bad = fmt.Sprintf("sequence number %d where %d was expected: an event is missing or was inserted", e.Seq, want)
			case e.PrevHash != prev:
				bad = "prev_hash does not match the previous event's hash"
			default:
				h, err := Hash(e)
				if err != nil {
					return r, err
				}
				if h != e.Hash {
					bad = "hash does not match the event's content: the event was modified"
				}
			}
			if bad != "" {
				r.FirstBadEventID, r.FirstBadSeq, r.Reason = e.ID, e.Seq, bad
				return r, nil
			}
			r.Events++
			prev, want = e.Hash, e.Seq+1
		}
		if len(rows) < page.Limit {
			r.OK = true
			return r, nil
		}
		page.After = strconv.FormatInt(rows[len(rows)-1].Seq, 10)
	}
}
