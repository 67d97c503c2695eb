package sqlstore

import (
	"slices"
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, sqlite, postgres string }{
		{"SELECT 1", "SELECT 1", "SELECT 1"},
		{"a = ? AND b IN (?, ?)", "a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"},
		{"?,?,?,?,?,?,?,?,?,?", "?,?,?,?,?,?,?,?,?,?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10"},
	} {
		if got := sqlite.rebind(tc.in); got != tc.sqlite {
			t.Errorf("sqlite.rebind(%q) = %q", tc.in, got)
		}
		if got := postgres.rebind(tc.in); got != tc.postgres {
			t.Errorf("postgres.rebind(%q) = %q", tc.in, got)
		}
	}
}

func TestTimeText(t *testing.T) {
	t.Run("text order is time order", func(t *testing.T) {
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		var times []time.Time
		for _, d := range []time.Duration{0, time.Microsecond, 999 * time.Microsecond, time.Millisecond, time.Second,
			9 * time.Second, 10 * time.Second, time.Hour, 10 * time.Hour, 24 * time.Hour, 300 * 24 * time.Hour} {
			times = append(times, base.Add(d))
		}
		times = append([]time.Time{{}, time.Date(999, 12, 31, 0, 0, 0, 0, time.UTC)}, times...)
		var texts []string
		for _, tm := range times {
			s := sqlite.time(tm).(string)
			if len(s) != len(timeLayout) {
				t.Errorf("%v is stored as %q, not fixed width", tm, s)
			}
			texts = append(texts, s)
		}
		if !slices.IsSorted(texts) {
			t.Fatalf("not sorted: %q", texts)
		}
	})

	t.Run("a stored time parses back in UTC", func(t *testing.T) {
		in := time.Date(2025, 7, 8, 9, 10, 11, 123456789, time.FixedZone("x", -7*3600))
		var got time.Time
		if err := (timeScan{&got}).Scan(sqlite.time(in)); err != nil {
			t.Fatal(err)
		}
		if want := in.Truncate(time.Microsecond); !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("got %v, want %v in UTC", got, want)
		}
	})
}

func TestMigrationsOfBothDialectsMatch(t *testing.T) {
	lite, err := migrations(sqlite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := migrations(postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].name != pg[i].name {
			t.Errorf("migration %d is %s for SQLite, %s for PostgreSQL", i+1, lite[i].name, pg[i].name)
		}
	}
}
