package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

func (a *API) listTasks(w http.ResponseWriter, r *http.Request, c *call) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rows, next, err := a.tasks.List(r.Context(), c.accountID, q.Get("status"), q.Get("kind"), pg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(rows, next, toTask))
	return nil
}

func (a *API) getTask(w http.ResponseWriter, r *http.Request, c *call) error {
	t, err := a.tasks.Get(r.Context(), c.accountID, r.PathValue("task_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTask(t))
	return nil
}

func (a *API) approveTask(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.ApproveRequest
	if err := decodeOptional(r, &req); err != nil {
		return err
	}
	t, err := a.tasks.Decide(r.Context(), c.accountID, r.PathValue("task_id"), c.principal.UserID, store.DecisionApprove, req.Comment)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTask(t))
	return nil
}

func (a *API) denyTask(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.DenyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := a.tasks.Decide(r.Context(), c.accountID, r.PathValue("task_id"), c.principal.UserID, store.DecisionDeny, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTask(t))
	return nil
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	pg := store.Page{Limit: store.DefaultPageLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxPageLimit {
			return errs.Invalidf("limit", "must be a whole number from 1 to %d", store.MaxPageLimit)
		}
		pg.Limit = n
	}
	if cur := q.Get("cursor"); cur != "" {
		n, err := strconv.ParseInt(cur, 10, 64)
		if err != nil || n < 1 {
			return errs.Invalidf("cursor", "is not a cursor this server returned")
		}
		pg.After = cur
	}
	f := store.AuditFilter{Descending: q.Get("order") != "asc", Action: q.Get("action"), SubjectID: q.Get("subject_id"), ActorID: q.Get("actor_id")}
	switch q.Get("order") {
	case "", "asc", "desc":
	default:
		return errs.Invalidf("order", "must be asc or desc")
	}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return errs.Invalidf("since", "must be an RFC 3339 time")
		}
		f.Since = &t
	}
	rows, err := a.st.ListAudit(r.Context(), c.accountID, f, pg.Plus1())
	if err != nil {
		return err
	}
	out := apiv1.List[apiv1.AuditEvent]{Items: []apiv1.AuditEvent{}}
	if len(rows) > pg.Limit {
		rows = rows[:pg.Limit]
		out.NextCursor = strconv.FormatInt(rows[len(rows)-1].Seq, 10)
	}
	for _, e := range rows {
		out.Items = append(out.Items, toAuditEvent(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) verifyAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	res, err := a.audit.Verify(r.Context(), a.st, c.accountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.AuditVerification{OK: res.OK, Events: res.Events,
		FirstBadEventID: res.FirstBadEventID, FirstBadSeq: res.FirstBadSeq, Reason: res.Reason})
	return nil
}
