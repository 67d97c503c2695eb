package attest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/store/sqlstore"
	"github.com/openccm/openccm/internal/store/sqlstore/sqltest"
)

// seedAzureCVM stores an account with n approved Azure CVM images whose
// PCR0..7 come from small value pools (so that many images share values),
// and returns the VM PCRs of one of them.
func seedAzureCVM(tb testing.TB, st store.Store, n int) (string, map[int]string) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	acct := &store.Account{ID: "01a00000-0000-7000-8000-000000000001", Name: "bench", TrustDomain: "bench",
		ApprovalPolicy: store.ApprovalPolicy{RequiredApprovals: 1}, AzureCVMPCRPriority: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22},
		SGXAcceptedTCBStatuses: []string{"UpToDate"}, CreatedAt: now, UpdatedAt: now}
	app := &store.App{ID: "01a00000-0000-7000-8000-000000000002", AccountID: acct.ID, Name: "cvm", Type: store.AppAzureCVM,
		Domains: []string{}, ApprovedDomains: []string{}, Labels: map[string]string{}, CreatedAt: now, UpdatedAt: now}
	rng := rand.New(rand.NewPCG(1, 2))
	val := func(pcr, v int) string { return fmt.Sprintf("%02x%062x", pcr, v) }
	var vm map[int]string
	err := st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.CreateAccount(ctx, acct); err != nil {
			return err
		}
		if err := tx.CreateApp(ctx, app); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			pcrs := map[int]string{}
			for p := 0; p < 8; p++ {
				pcrs[p] = val(p, rng.IntN(4))
			}
			pcrs[11] = val(11, i) // makes every combination unique
			if i == n/2 {
				vm = pcrs
			}
			img := &store.Image{ID: fmt.Sprintf("01a00000-0000-7000-8000-%012d", 100+i), AccountID: acct.ID, AppID: app.ID,
				Type: store.AppAzureCVM, Platform: "azure_cvm", Version: fmt.Sprint(i), Status: store.ImageReady,
				ApprovalStatus: store.ApprovalApproved, Measurements: store.Measurements{PCRs: pcrs},
				MeasurementKey: image.AzureCVMKey(pcrs), CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateImage(ctx, img); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return acct.ID, vm
}

func TestSelectUsesTheCachedIndexUntilImagesChange(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqltest.NewSQLite(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acct, vm := seedAzureCVM(t, st, 50)
	s, _ := New(Config{Store: st})
	d, err := s.Select(ctx, acct, Query{Platform: "azure_cvm", PCRs: vm})
	if err != nil || d.Result != ResultOK {
		t.Fatalf("first select: %v %v", d.Result, err)
	}
	first := s.cvm[acct]
	if _, err := s.Select(ctx, acct, Query{Platform: "azure_cvm", PCRs: vm}); err != nil || s.cvm[acct] != first {
		t.Fatal("the index was rebuilt although no image changed")
	}
	// An approval change (even one stamped with an old time) rebuilds it.
	img := d.Image
	img.ApprovalStatus = store.ApprovalDenied
	if err := st.UpdateImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	d, err = s.Select(ctx, acct, Query{Platform: "azure_cvm", PCRs: vm})
	if err != nil || d.Result != ResultImageNotApproved || s.cvm[acct] == first {
		t.Fatalf("after the change: %v %v (rebuilt: %v)", d.Result, err, s.cvm[acct] != first)
	}
}

// BenchmarkExplainAzureCVM measures a whole warm selection with 10,000
// images in the account: the stamp query, the account read and the indexed
// selection (the index is built once and cached).
func BenchmarkExplainAzureCVM(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlstore.Open(ctx, dir+"/ccm.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	acct, vm := seedAzureCVM(b, st, 10000)
	s, _ := New(Config{Store: st})
	if d, err := s.Select(ctx, acct, Query{Platform: "azure_cvm", PCRs: vm}); err != nil || d.Result != ResultOK {
		b.Fatalf("%v %v", d.Result, err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Select(ctx, acct, Query{Platform: "azure_cvm", PCRs: vm}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestChallengesAreCappedPerAccount(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqltest.NewSQLite(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acct, _ := seedAzureCVM(t, st, 0)
	s, _ := New(Config{Store: st, MaxNonces: 3})
	for i := 0; i < 3; i++ {
		if _, _, err := s.Challenge(ctx, acct); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Challenge(ctx, acct); !errs.Is(errs.RateLimited, err) {
		t.Fatalf("the fourth challenge: %v", err)
	}
}
