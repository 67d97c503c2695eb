package storetest

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
)

func testAudit(t *testing.T, open func(t *testing.T) store.Store) {
	seqOf := func(e *store.AuditEvent) string { return strconv.FormatInt(e.Seq, 10) }

	t.Run("an event reads back with every field, its details byte for byte", func(t *testing.T) {
		f := newFixture(t, open)
		for i, details := range []string{
			`{"b":1,"a":2}`,
			"{ \"z\" :[ 2,1 ],\n\t\"a\":{\"y\":null , \"x\":true}  }",
			`{"name":"caf\u00e9","raw":"café ☕","n":1.50,"e":1e3}`,
			`{}`,
			``,
		} {
			a := f.account(fmt.Sprint("acme", i))
			e := &store.AuditEvent{ID: newID(), AccountID: a.ID, Seq: 1, At: t0, ActorType: "workload",
				ActorID: "spiffe://acme.example.com/w", Action: "attest", SubjectType: "image", SubjectID: newID(),
				Outcome: "denied", Details: []byte(details), PrevHash: "", Hash: "ab12"}
			mustOK(t, f.s.AppendAudit(f.ctx, e))
			got, err := f.s.LastAudit(f.ctx, a.ID)
			mustOK(t, err)
			if string(got.Details) != details {
				t.Fatalf("details read back as %q, want %q", got.Details, details)
			}
			got.Details = e.Details
			wantEqual(t, got, e)
			list, err := f.s.ListAudit(f.ctx, a.ID, store.AuditFilter{}, store.Page{})
			mustOK(t, err)
			if len(list) != 1 || string(list[0].Details) != details {
				t.Fatalf("ListAudit = %+v", list)
			}
		}
	})

	t.Run("details a text column cannot keep are refused", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		for _, details := range []string{"{\"a\":\"\xff\"}", "{\"a\":\"\x00\"}"} {
			e := &store.AuditEvent{ID: newID(), AccountID: a.ID, Seq: 1, At: t0, Details: []byte(details)}
			if err := f.s.AppendAudit(f.ctx, e); err == nil {
				t.Errorf("AppendAudit accepted the details %q", details)
			}
		}
		_, err := f.s.LastAudit(f.ctx, a.ID)
		wantNotFound(t, err)
	})

	t.Run("a sequence number is unique within an account only", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		e := f.audit(a.ID, 1)
		dup := *e
		dup.ID = newID()
		wantConflict(t, f.s.AppendAudit(f.ctx, &dup), "audit_events.seq")
		f.audit(b.ID, 1)
		last, err := f.s.LastAudit(f.ctx, a.ID)
		mustOK(t, err)
		wantEqual(t, last, e)
	})

	t.Run("an event with a taken ID conflicts on audit_events.id", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		e := f.audit(a.ID, 1)
		dup := *e
		dup.Seq = 2
		wantConflict(t, f.s.AppendAudit(f.ctx, &dup), "audit_events.id")
	})

	t.Run("the last event is the account's highest sequence number", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		_, err := f.s.LastAudit(f.ctx, a.ID)
		wantNotFound(t, err)
		f.audit(a.ID, 9)
		last := f.audit(a.ID, 10)
		f.audit(a.ID, 2) // appended later, lower number
		f.audit(b.ID, 11)
		got, err := f.s.LastAudit(f.ctx, a.ID)
		mustOK(t, err)
		wantEqual(t, got, last)
	})

	t.Run("events are listed by sequence number, either way, page by page", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		// More than nine, so that sequence numbers compare as numbers.
		var asc, desc []string
		for seq := int64(1); seq <= 12; seq++ {
			asc = append(asc, seqOf(f.audit(a.ID, seq)))
		}
		for i := len(asc) - 1; i >= 0; i-- {
			desc = append(desc, asc[i])
		}
		f.audit(b.ID, 13)
		for _, tc := range []struct {
			name string
			f    store.AuditFilter
			want []string
		}{
			{"oldest first", store.AuditFilter{}, asc},
			{"newest first", store.AuditFilter{Descending: true}, desc},
		} {
			t.Run(tc.name, func(t *testing.T) {
				checkPaging(t, tc.want, func(p store.Page) ([]string, error) {
					es, err := f.s.ListAudit(f.ctx, a.ID, tc.f, p)
					return ids(es, seqOf), err
				})
			})
		}
		es, err := f.s.ListAudit(f.ctx, a.ID, store.AuditFilter{}, store.Page{After: "9"})
		mustOK(t, err)
		wantEqual(t, ids(es, seqOf), []string{"10", "11", "12"})
		es, err = f.s.ListAudit(f.ctx, a.ID, store.AuditFilter{Descending: true}, store.Page{After: "10"})
		mustOK(t, err)
		wantEqual(t, ids(es, seqOf), []string{"9", "8", "7", "6", "5", "4", "3", "2", "1"})
	})

	t.Run("events are filtered by action, subject, actor and time", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		for seq, r := range []struct{ action, subject, actor string }{
			1: {"app.create", "app-1", "ada"},
			2: {"image.create", "img-1", "ada"},
			3: {"app.update", "app-1", "bob"},
			4: {"app.create", "app-2", "bob"},
			5: {"image.approve", "img-1", "ada"},
			6: {"app.create", "app-3", "ada"},
		} {
			if seq == 0 {
				continue
			}
			e := &store.AuditEvent{ID: newID(), AccountID: a.ID, Seq: int64(seq), At: t0.Add(time.Duration(seq) * time.Minute),
				ActorType: "user", ActorID: r.actor, Action: r.action, SubjectType: "x", SubjectID: r.subject,
				Outcome: "success", Details: []byte(`{}`)}
			mustOK(t, f.s.AppendAudit(f.ctx, e))
		}
		since := t0.Add(4 * time.Minute) // event 4's time: included
		for _, tc := range []struct {
			name string
			f    store.AuditFilter
			p    store.Page
			want []string
		}{
			{"by action", store.AuditFilter{Action: "app.create"}, store.Page{}, []string{"1", "4", "6"}},
			{"by subject", store.AuditFilter{SubjectID: "img-1"}, store.Page{}, []string{"2", "5"}},
			{"by actor", store.AuditFilter{ActorID: "bob"}, store.Page{}, []string{"3", "4"}},
			{"since a time, inclusive", store.AuditFilter{Since: &since}, store.Page{}, []string{"4", "5", "6"}},
			{"by everything, newest first", store.AuditFilter{Descending: true, Action: "app.create", ActorID: "ada", Since: &since}, store.Page{}, []string{"6"}},
			{"by action, newest first, a page after a cursor", store.AuditFilter{Descending: true, Action: "app.create"}, store.Page{Limit: 1, After: "6"}, []string{"4"}},
			{"by subject, a page after a cursor", store.AuditFilter{SubjectID: "app-1"}, store.Page{After: "1"}, []string{"3"}},
			{"matching none", store.AuditFilter{Action: "app.delete"}, store.Page{}, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				es, err := f.s.ListAudit(f.ctx, a.ID, tc.f, tc.p)
				mustOK(t, err)
				wantEqual(t, ids(es, seqOf), tc.want)
			})
		}
	})

	t.Run("a cursor that is not a sequence number is an error", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		f.audit(a.ID, 1)
		for _, after := range []string{"x", "1.5", "01900000-0000-7000-8000-000000000001"} {
			if _, err := f.s.ListAudit(f.ctx, a.ID, store.AuditFilter{}, store.Page{After: after}); err == nil {
				t.Errorf("ListAudit after %q succeeded", after)
			}
		}
	})

	t.Run("events outlive their account and may still be appended", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		first := f.audit(a.ID, 1)
		mustOK(t, f.s.DeleteAccount(f.ctx, a.ID))
		last := f.audit(a.ID, 2) // "account deleted", written after the delete
		got, err := f.s.LastAudit(f.ctx, a.ID)
		mustOK(t, err)
		wantEqual(t, got, last)
		es, err := f.s.ListAudit(f.ctx, a.ID, store.AuditFilter{}, store.Page{})
		mustOK(t, err)
		wantEqual(t, es, []*store.AuditEvent{first, last})
		// An account that never existed has events the same way.
		f.audit(newID(), 1)
	})

	t.Run("events can be neither changed nor deleted", func(t *testing.T) {
		allowed := map[string]bool{"AppendAudit": true, "LastAudit": true, "ListAudit": true}
		st := reflect.TypeFor[store.Store]()
		for i := range st.NumMethod() {
			if m := st.Method(i).Name; strings.Contains(m, "Audit") && !allowed[m] {
				t.Errorf("the store has a method %s", m)
			}
		}
	})
}
