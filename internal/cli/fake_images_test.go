package cli

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/openccm/openccm/pkg/apiv1"
)

// imageState is the fake server's images, build jobs, approval tasks and
// audit log.
type imageState struct {
	images map[string][]*apiv1.Image      // account ID → images
	builds map[string]*apiv1.Build        // image ID → its build job
	tasks  map[string][]*apiv1.Task       // account ID → tasks
	audit  map[string][]*apiv1.AuditEvent // account ID → events, oldest first
	// brokenAt, when not zero, is the seq of the first event whose hash
	// does not verify.
	brokenAt int64
}

// addAuditEvents appends n events to an account's audit log.
func (f *fakeServer) addAuditEvents(accountID string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		seq := int64(len(f.images.audit[accountID]) + 1)
		f.images.audit[accountID] = append(f.images.audit[accountID], &apiv1.AuditEvent{
			EventID: f.id(), Seq: seq, At: fakeNow.Add(time.Duration(seq) * time.Minute),
			Actor: apiv1.AuditActor{Type: "user", ID: "u-" + strconv.FormatInt(seq, 10)}, Action: "app.create",
			Subject: apiv1.AuditSubject{Type: "app", ID: "app-" + strconv.FormatInt(seq, 10)}, Outcome: "success",
			Details: json.RawMessage(`{}`),
		})
	}
}

type (
	authFunc      func(h func(w http.ResponseWriter, r *http.Request, email string)) http.HandlerFunc
	inAccountFunc func(h func(w http.ResponseWriter, r *http.Request, a *apiv1.Account)) http.HandlerFunc
	findAppFunc   func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) (int, *apiv1.App)
)

func (f *fakeServer) imageRoutes(mux *http.ServeMux, auth authFunc, inAccount inAccountFunc, findApp findAppFunc) {
	st := &f.images
	st.images = map[string][]*apiv1.Image{}
	st.builds = map[string]*apiv1.Build{}
	st.tasks = map[string][]*apiv1.Task{}
	st.audit = map[string][]*apiv1.AuditEvent{}

	mux.HandleFunc("POST /v1/accounts/{a}/apps/{app}/images", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		_, app := findApp(w, r, a)
		if app == nil {
			return
		}
		var req apiv1.CreateImageRequest
		if !decode(w, r, &req) {
			return
		}
		img := &apiv1.Image{ImageID: f.id(), AppID: app.AppID, Type: app.Type, Platform: req.Platform,
			Version: firstNonEmpty(req.Version, req.Tag, req.OutputTag), Status: "ready", ApprovalStatus: "pending",
			Measurements: map[string]any{}, CreatedBy: f.userIDs[adminEmail], CreatedAt: fakeNow, UpdatedAt: fakeNow}
		for _, other := range st.images[a.AccountID] {
			if other.AppID == app.AppID && other.Version == img.Version {
				fail(w, 409, apiv1.CodeConflict, "version", "use a new version")
				return
			}
		}
		m := img.Measurements
		set := func(k, v string) {
			if v != "" {
				m[k] = v
			}
		}
		set("mrenclave", req.MREnclave)
		set("mrsigner", req.MRSigner)
		if req.Sigstruct != "" {
			b, err := base64.StdEncoding.DecodeString(req.Sigstruct)
			if err != nil || len(b) != 1808 {
				fail(w, 400, apiv1.CodeValidationFailed, "sigstruct", "is not a SIGSTRUCT")
				return
			}
			sum := sha256.Sum256(b)
			m["mrenclave"] = hex.EncodeToString(sum[:])
		}
		set("pcr0", req.PCR0)
		set("pcr1", req.PCR1)
		set("pcr2", req.PCR2)
		set("measurement", req.Measurement)
		if req.VMPL != nil {
			m["vmpl"] = *req.VMPL
		}
		if app.Type == "azure_cvm" {
			m["pcrs"] = req.PCRs
		}
		img.ImageSettings = apiv1.ImageSettings{Tag: req.Tag, InputTag: req.InputTag, OutputTag: req.OutputTag, GPU: req.GPU,
			FilePersistence: req.FilePersistence, WaitForNodeRegistration: req.WaitForNodeRegistration,
			HasInlineCredentials: req.Credentials != nil || req.OutputCredentials != nil}
		if req.MemoryMiB != nil {
			img.MemoryMiB = *req.MemoryMiB
		}
		status := 201
		if app.Type == "enclave_os" || app.Type == "aci" {
			img.Status, status = "pending", 202
			st.builds[img.ImageID] = &apiv1.Build{JobID: f.id(), ImageID: img.ImageID, Kind: app.Type + "_build", Status: "running",
				Progress: 40, Log: []string{"pulling docker.io/library/nginx:" + img.Version, "layer 1/3 \x1b[31mdone"}, Attempts: 1,
				CreatedAt: fakeNow, UpdatedAt: fakeNow}
		} else {
			t := &apiv1.Task{TaskID: f.id(), Kind: "image_approval", Subject: apiv1.TaskSubject{Type: "image", ID: img.ImageID},
				Status: "pending", RequiredApprovals: a.ApprovalPolicy.RequiredApprovals, Approvals: []apiv1.TaskDecision{},
				CreatedBy: img.CreatedBy, CreatedAt: fakeNow}
			st.tasks[a.AccountID] = append(st.tasks[a.AccountID], t)
			img.TaskID = t.TaskID
		}
		st.images[a.AccountID] = append(st.images[a.AccountID], img)
		reply(w, status, img)
	}))
	listImages := func(w http.ResponseWriter, r *http.Request, imgs []*apiv1.Image) {
		q := r.URL.Query()
		imgs = slices.DeleteFunc(slices.Clone(imgs), func(i *apiv1.Image) bool {
			return q.Get("status") != "" && i.Status != q.Get("status") ||
				q.Get("approval_status") != "" && i.ApprovalStatus != q.Get("approval_status") ||
				q.Get("type") != "" && i.Type != q.Get("type")
		})
		page(w, r, imgs)
	}
	mux.HandleFunc("GET /v1/accounts/{a}/apps/{app}/images", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		_, app := findApp(w, r, a)
		if app == nil {
			return
		}
		listImages(w, r, slices.DeleteFunc(slices.Clone(st.images[a.AccountID]), func(i *apiv1.Image) bool { return i.AppID != app.AppID }))
	}))
	mux.HandleFunc("GET /v1/accounts/{a}/images", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		listImages(w, r, st.images[a.AccountID])
	}))
	findImage := func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) (int, *apiv1.Image) {
		i, img := find(st.images[a.AccountID], func(x *apiv1.Image) bool { return x.ImageID == r.PathValue("i") })
		if img == nil {
			fail(w, 404, apiv1.CodeNotFound, "", "image not found")
		}
		return i, img
	}
	mux.HandleFunc("GET /v1/accounts/{a}/images/{i}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		if _, img := findImage(w, r, a); img != nil {
			reply(w, 200, img)
		}
	}))
	mux.HandleFunc("DELETE /v1/accounts/{a}/images/{i}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		if i, img := findImage(w, r, a); img != nil {
			st.images[a.AccountID] = slices.Delete(st.images[a.AccountID], i, i+1)
			w.WriteHeader(204)
		}
	}))
	mux.HandleFunc("GET /v1/accounts/{a}/images/{i}/build", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		_, img := findImage(w, r, a)
		if img == nil {
			return
		}
		if b := st.builds[img.ImageID]; b != nil {
			reply(w, 200, b)
			return
		}
		fail(w, 404, apiv1.CodeNotFound, "", "the image has no build job")
	}))

	mux.HandleFunc("POST /v1/tools/sigstruct", auth(func(w http.ResponseWriter, r *http.Request, _ string) {
		var req apiv1.SigstructRequest
		if !decode(w, r, &req) {
			return
		}
		b, err := base64.StdEncoding.DecodeString(req.Sigstruct)
		if err != nil || len(b) != 1808 {
			fail(w, 400, apiv1.CodeValidationFailed, "sigstruct", "is not a SIGSTRUCT")
			return
		}
		sum := sha256.Sum256(b)
		reply(w, 200, apiv1.SigstructInfo{MREnclave: hex.EncodeToString(sum[:]), MRSigner: "5151", ISVProdID: 7, ISVSVN: 2,
			Attributes: "0700", MiscSelect: 0, Date: "2024-06-01", Vendor: 0x8086})
	}))
	mux.HandleFunc("POST /v1/tools/nitro-measurements", auth(func(w http.ResponseWriter, r *http.Request, _ string) {
		var req apiv1.NitroMeasurementsRequest
		if !decode(w, r, &req) {
			return
		}
		var doc struct {
			Measurements map[string]string `json:"Measurements"`
		}
		if json.Unmarshal([]byte(req.MeasurementJSON), &doc) != nil || doc.Measurements["PCR0"] == "" {
			fail(w, 400, apiv1.CodeValidationFailed, "measurement_json", "has no PCRs")
			return
		}
		p := doc.Measurements
		reply(w, 200, apiv1.NitroMeasurements{PCR0: p["PCR0"], PCR1: p["PCR1"], PCR2: p["PCR2"]})
	}))

	mux.HandleFunc("GET /v1/accounts/{a}/tasks", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		q := r.URL.Query()
		page(w, r, slices.DeleteFunc(slices.Clone(st.tasks[a.AccountID]), func(t *apiv1.Task) bool {
			return q.Get("status") != "" && t.Status != q.Get("status") || q.Get("kind") != "" && t.Kind != q.Get("kind")
		}))
	}))
	findTask := func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) *apiv1.Task {
		_, t := find(st.tasks[a.AccountID], func(x *apiv1.Task) bool { return x.TaskID == r.PathValue("t") })
		if t == nil {
			fail(w, 404, apiv1.CodeNotFound, "", "task not found")
		}
		return t
	}
	mux.HandleFunc("GET /v1/accounts/{a}/tasks/{t}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		if t := findTask(w, r, a); t != nil {
			reply(w, 200, t)
		}
	}))
	decide := func(decision string) http.HandlerFunc {
		return auth(func(w http.ResponseWriter, r *http.Request, email string) {
			_, a := find(f.accounts, func(a *apiv1.Account) bool { return a.AccountID == r.PathValue("a") })
			if a == nil {
				fail(w, 404, apiv1.CodeNotFound, "", "account not found")
				return
			}
			t := findTask(w, r, a)
			if t == nil {
				return
			}
			var body struct{ Comment, Reason string }
			if !decode(w, r, &body) {
				return
			}
			if decision == "deny" && body.Reason == "" {
				fail(w, 400, apiv1.CodeValidationFailed, "reason", "must not be empty")
				return
			}
			if t.Status != "pending" {
				fail(w, 409, apiv1.CodeConflict, "", "the task is resolved")
				return
			}
			t.Approvals = append(t.Approvals, apiv1.TaskDecision{UserID: f.userIDs[email], Email: email, Decision: decision,
				Comment: body.Comment + body.Reason, At: fakeNow})
			if decision == "deny" {
				t.Status = "denied"
			} else if n := len(t.Approvals); n >= t.RequiredApprovals {
				t.Status = "approved"
			}
			if t.Status != "pending" {
				resolved := fakeNow
				t.ResolvedAt = &resolved
				if _, img := find(st.images[a.AccountID], func(i *apiv1.Image) bool { return i.ImageID == t.Subject.ID }); img != nil {
					img.ApprovalStatus = t.Status
				}
			}
			reply(w, 200, t)
		})
	}
	mux.HandleFunc("POST /v1/accounts/{a}/tasks/{t}/approve", decide("approve"))
	mux.HandleFunc("POST /v1/accounts/{a}/tasks/{t}/deny", decide("deny"))

	mux.HandleFunc("GET /v1/accounts/{a}/audit", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		q := r.URL.Query()
		var since time.Time
		if s := q.Get("since"); s != "" {
			var err error
			if since, err = time.Parse(time.RFC3339, s); err != nil {
				fail(w, 400, apiv1.CodeValidationFailed, "since", "must be an RFC 3339 time")
				return
			}
		}
		events := slices.Clone(st.audit[a.AccountID])
		asc := q.Get("order") == "asc"
		if !asc {
			slices.Reverse(events)
		}
		cur, _ := strconv.ParseInt(q.Get("cursor"), 10, 64)
		events = slices.DeleteFunc(events, func(e *apiv1.AuditEvent) bool {
			return q.Get("action") != "" && e.Action != q.Get("action") ||
				q.Get("subject_id") != "" && e.Subject.ID != q.Get("subject_id") ||
				q.Get("actor_id") != "" && e.Actor.ID != q.Get("actor_id") ||
				e.At.Before(since) ||
				cur != 0 && (asc && e.Seq <= cur || !asc && e.Seq >= cur)
		})
		limit, _ := strconv.Atoi(q.Get("limit"))
		if limit <= 0 || limit > 2 {
			limit = 2 // pages of two, like page()
		}
		l := apiv1.List[apiv1.AuditEvent]{Items: []apiv1.AuditEvent{}}
		for i, e := range events {
			if i == limit {
				l.NextCursor = strconv.FormatInt(events[i-1].Seq, 10)
				break
			}
			l.Items = append(l.Items, *e)
		}
		reply(w, 200, l)
	}))
	mux.HandleFunc("GET /v1/accounts/{a}/audit/verify", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		events := st.audit[a.AccountID]
		v := apiv1.AuditVerification{OK: true, Events: len(events)}
		if st.brokenAt != 0 {
			_, e := find(events, func(e *apiv1.AuditEvent) bool { return e.Seq == st.brokenAt })
			v = apiv1.AuditVerification{Events: len(events), FirstBadEventID: e.EventID, FirstBadSeq: e.Seq,
				Reason: "hash does not match the event's contents"}
		}
		reply(w, 200, v)
	}))

	// explain: Azure CVM only matches images whose PCRs are all equal to
	// the VM's; other platforms match on a "measurement" value.
	mux.HandleFunc("POST /v1/accounts/{a}/attest/explain", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		var req apiv1.ExplainRequest
		if !decode(w, r, &req) {
			return
		}
		out := apiv1.Explanation{Result: "no_matching_image", Steps: []string{"considered the images of the account"}}
		for _, img := range st.images[a.AccountID] {
			if req.AppID != "" && img.AppID != req.AppID {
				continue
			}
			match := false
			if pcrs, ok := img.Measurements["pcrs"].(map[string]string); ok && req.Platform == "azure_cvm" && len(pcrs) > 0 {
				match = true
				for k, v := range pcrs {
					match = match && req.PCRs[k] == v
				}
			} else if v, ok := img.Measurements["measurement"]; ok && req.Measurements["measurement"] == v {
				match = true
			}
			if match {
				id := img.ImageID
				out.SelectedImageID = &id
				out.Steps = append(out.Steps, "image "+id+" matches")
				out.Result = "image_not_approved"
				if img.ApprovalStatus == "approved" {
					out.Result = "ok"
				}
				break
			}
		}
		if out.SelectedImageID == nil {
			out.Steps = append(out.Steps, "no image of the account has these measurements\x1b[2J")
		}
		reply(w, 200, out)
	}))
}
