package store

import (
	"slices"
	"testing"
)

func TestTrim(t *testing.T) {
	id := func(s string) string { return s }
	rows := []string{"a", "b", "c"}
	cases := []struct {
		name  string
		rows  []string
		p     Page
		want  []string
		next  string
		limit int
	}{
		{"a full page with more to come gives a cursor", rows, Page{Limit: 2}, []string{"a", "b"}, "b", 3},
		{"the last page gives no cursor", rows[:2], Page{Limit: 2}, []string{"a", "b"}, "", 3},
		{"an empty page gives no cursor", nil, Page{Limit: 2}, nil, "", 3},
		{"no limit means the default", rows, Page{}, rows, "", DefaultPageLimit + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.Plus1().Limit; got != c.limit {
				t.Fatalf("Plus1().Limit = %d, want %d", got, c.limit)
			}
			got, next := Trim(c.rows, c.p, id)
			if !slices.Equal(got, c.want) || next != c.next {
				t.Fatalf("Trim = %v %q, want %v %q", got, next, c.want, c.next)
			}
		})
	}
}
