package store

// MaxPageLimit is the largest page a list returns.
const MaxPageLimit = 500

// DefaultPageLimit is the page size when none is asked for.
const DefaultPageLimit = 50

// withDefault returns p with a limit of DefaultPageLimit when it has none.
func (p Page) withDefault() Page {
	if p.Limit <= 0 {
		p.Limit = DefaultPageLimit
	}
	return p
}

// Plus1 returns p asking for one more row than p.Limit, so that the caller
// learns whether another page follows (see Trim).
func (p Page) Plus1() Page {
	p = p.withDefault()
	return Page{Limit: p.Limit + 1, After: p.After}
}

// Trim cuts rows fetched with p.Plus1() to p.Limit and returns the cursor of
// the next page ("" on the last page).
func Trim[T any](rows []T, p Page, id func(T) string) ([]T, string) {
	p = p.withDefault()
	if len(rows) <= p.Limit {
		return rows, ""
	}
	rows = rows[:p.Limit]
	return rows, id(rows[len(rows)-1])
}
