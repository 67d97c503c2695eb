package client

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/pkg/apiv1"
)

func TestImageTaskAuditRequests(t *testing.T) {
	ctx := context.Background()
	const acct = "a/1" // escaped in paths
	since := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	tests := []struct {
		name   string
		call   func(c *Client) error
		method string
		path   string // escaped
		query  string
		body   string // exact, "" for none
	}{
		{"create image posts to the app's images", func(c *Client) error {
			n := 7
			_, err := c.CreateImage(ctx, acct, "app 1", apiv1.CreateImageRequest{Version: "1", Platform: "sgx", MREnclave: "ab", ISVProdID: &n})
			return err
		}, "POST", "/v1/accounts/a%2F1/apps/app%201/images", "", `{"version":"1","platform":"sgx","mrenclave":"ab","isvprodid":7}`},
		{"list app images sends the filters", func(c *Client) error {
			_, err := c.ListAppImages(ctx, acct, "x", ImageListOptions{ListOptions: ListOptions{Limit: 3}, Status: "ready", ApprovalStatus: "approved", Type: "edp"})
			return err
		}, "GET", "/v1/accounts/a%2F1/apps/x/images", "approval_status=approved&limit=3&status=ready&type=edp", ""},
		{"list images without filters", func(c *Client) error {
			_, err := c.ListImages(ctx, acct, ImageListOptions{})
			return err
		}, "GET", "/v1/accounts/a%2F1/images", "", ""},
		{"list images with a cursor", func(c *Client) error {
			_, err := c.ListImages(ctx, acct, ImageListOptions{ListOptions: ListOptions{Cursor: "c"}, Type: "aci"})
			return err
		}, "GET", "/v1/accounts/a%2F1/images", "cursor=c&type=aci", ""},
		{"get image", func(c *Client) error { _, err := c.GetImage(ctx, acct, "i"); return err },
			"GET", "/v1/accounts/a%2F1/images/i", "", ""},
		{"delete image", func(c *Client) error { return c.DeleteImage(ctx, acct, "i") },
			"DELETE", "/v1/accounts/a%2F1/images/i", "", ""},
		{"image build", func(c *Client) error { _, err := c.GetImageBuild(ctx, acct, "i"); return err },
			"GET", "/v1/accounts/a%2F1/images/i/build", "", ""},
		{"parse sigstruct", func(c *Client) error { _, err := c.ParseSigstruct(ctx, "AAAA"); return err },
			"POST", "/v1/tools/sigstruct", "", `{"sigstruct":"AAAA"}`},
		{"parse nitro measurements", func(c *Client) error { _, err := c.ParseNitroMeasurements(ctx, `{"PCR0":"x"}`); return err },
			"POST", "/v1/tools/nitro-measurements", "", `{"measurement_json":"{\"PCR0\":\"x\"}"}`},
		{"list tasks sends the filters", func(c *Client) error {
			_, err := c.ListTasks(ctx, acct, TaskListOptions{Status: "pending", Kind: "image_approval"})
			return err
		}, "GET", "/v1/accounts/a%2F1/tasks", "kind=image_approval&status=pending", ""},
		{"get task", func(c *Client) error { _, err := c.GetTask(ctx, acct, "t"); return err },
			"GET", "/v1/accounts/a%2F1/tasks/t", "", ""},
		{"approve without comment sends an empty object", func(c *Client) error { _, err := c.ApproveTask(ctx, acct, "t", ""); return err },
			"POST", "/v1/accounts/a%2F1/tasks/t/approve", "", `{}`},
		{"approve with a comment", func(c *Client) error { _, err := c.ApproveTask(ctx, acct, "t", "lgtm"); return err },
			"POST", "/v1/accounts/a%2F1/tasks/t/approve", "", `{"comment":"lgtm"}`},
		{"deny sends the reason", func(c *Client) error { _, err := c.DenyTask(ctx, acct, "t", "bad"); return err },
			"POST", "/v1/accounts/a%2F1/tasks/t/deny", "", `{"reason":"bad"}`},
		{"audit list without options", func(c *Client) error { _, err := c.ListAudit(ctx, acct, AuditListOptions{}); return err },
			"GET", "/v1/accounts/a%2F1/audit", "", ""},
		{"audit list with every option", func(c *Client) error {
			_, err := c.ListAudit(ctx, acct, AuditListOptions{Limit: 5, Cursor: "42", Order: "asc", Action: "image.create",
				SubjectID: "s", ActorID: "u", Since: &since})
			return err
		}, "GET", "/v1/accounts/a%2F1/audit",
			"action=image.create&actor_id=u&cursor=42&limit=5&order=asc&since=2030-01-02T02%3A04%3A05Z&subject_id=s", ""},
		{"audit verify", func(c *Client) error { _, err := c.VerifyAudit(ctx, acct); return err },
			"GET", "/v1/accounts/a%2F1/audit/verify", "", ""},
		{"explain posts the PCRs", func(c *Client) error {
			_, err := c.Explain(ctx, acct, apiv1.ExplainRequest{Platform: "azure_cvm", PCRs: map[string]string{"pcr7": "ab"}})
			return err
		}, "POST", "/v1/accounts/a%2F1/attest/explain", "", `{"platform":"azure_cvm","pcrs":{"pcr7":"ab"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{body: `{}`}
			c := newTestClient(t, rec, Config{Token: "s3cret"})
			if err := tc.call(c); err != nil {
				t.Fatal(err)
			}
			req, body := rec.last(t)
			if req.Method != tc.method || req.URL.EscapedPath() != tc.path || req.URL.RawQuery != tc.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", req.Method, req.URL.EscapedPath(), req.URL.RawQuery, tc.method, tc.path, tc.query)
			}
			if got := strings.TrimSpace(body); got != tc.body {
				t.Errorf("body = %s, want %s", got, tc.body)
			}
			if req.Header.Get("Authorization") != "Bearer s3cret" {
				t.Errorf("Authorization = %q", req.Header.Get("Authorization"))
			}
		})
	}
}

func TestCreateImageAccepted(t *testing.T) {
	for _, status := range []int{http.StatusCreated, http.StatusAccepted} {
		rec := &recorder{status: status, body: `{"image_id":"i1","status":"pending","measurements":{},"tag":"1.4","wait_for_node_registration":false}`}
		c := newTestClient(t, rec, Config{})
		img, err := c.CreateImage(context.Background(), "a", "b", apiv1.CreateImageRequest{Tag: "1.4"})
		if err != nil {
			t.Fatalf("HTTP %d: %v", status, err)
		}
		if img.ImageID != "i1" || img.Status != "pending" || img.Tag != "1.4" || img.WaitForNodeRegistration == nil || *img.WaitForNodeRegistration {
			t.Errorf("HTTP %d: image = %+v", status, img)
		}
	}
	rec := &recorder{status: 409, body: `{"error":{"code":"conflict","message":"use a new tag value","field":"tag"}}`}
	c := newTestClient(t, rec, Config{})
	if _, err := c.CreateImage(context.Background(), "a", "b", apiv1.CreateImageRequest{Tag: "1.4"}); !HasCode(err, apiv1.CodeConflict) {
		t.Errorf("error = %v", err)
	}
}

func TestDecodesToolAnswers(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{body: `{"mrenclave":"aa","mrsigner":"bb","isvprodid":7,"isvsvn":2,"attributes":"cc","miscselect":0,"date":"2024-06-01","vendor":32902}`}
	c := newTestClient(t, rec, Config{})
	info, err := c.ParseSigstruct(ctx, base64.StdEncoding.EncodeToString([]byte{1, 2, 3}))
	if err != nil {
		t.Fatal(err)
	}
	if info.MREnclave != "aa" || info.ISVProdID != 7 || info.Vendor != 32902 || info.Date != "2024-06-01" {
		t.Errorf("info = %+v", info)
	}
	rec.body = `{"ok":false,"events":12,"first_bad_event_id":"e5","first_bad_seq":5,"reason":"hash mismatch"}`
	v, err := c.VerifyAudit(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || v.Events != 12 || v.FirstBadSeq != 5 || v.Reason != "hash mismatch" {
		t.Errorf("verification = %+v", v)
	}
	rec.body = `{"selected_image_id":null,"result":"no_matching_image","steps":["a","b"]}`
	e, err := c.Explain(ctx, "a", apiv1.ExplainRequest{Platform: "sgx"})
	if err != nil {
		t.Fatal(err)
	}
	if e.SelectedImageID != nil || e.Result != "no_matching_image" || len(e.Steps) != 2 {
		t.Errorf("explanation = %+v", e)
	}
	rec.body = "package policy\n\ndefault allow := false\n"
	p, err := c.GetImagePolicy(ctx, "a", "i", "rego")
	if err != nil || string(p) != rec.body {
		t.Errorf("policy = %q, %v", p, err)
	}
	if last := rec.reqs[len(rec.reqs)-1]; last.URL.Path != "/v1/accounts/a/images/i/policy" || last.URL.RawQuery != "format=rego" {
		t.Errorf("policy request %s", last.URL)
	}
}

func TestAuditPagesFollowTheCursor(t *testing.T) {
	var queries []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		switch r.URL.Query().Get("cursor") {
		case "":
			w.Write([]byte(`{"items":[{"seq":3},{"seq":2}],"next_cursor":"2"}`))
		default:
			w.Write([]byte(`{"items":[{"seq":1}]}`))
		}
	})
	c := newTestClient(t, h, Config{})
	all, err := ListAll(context.Background(), c.AuditPages("a", AuditListOptions{Action: "x", Limit: 1, Cursor: "ignored"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[2].Seq != 1 {
		t.Errorf("events = %+v", all)
	}
	if len(queries) != 2 || queries[0] != "action=x&limit=500" || queries[1] != "action=x&cursor=2&limit=500" {
		t.Errorf("queries = %q", queries)
	}
}
