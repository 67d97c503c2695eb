package client

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"

	"github.com/openccm/openccm/pkg/apiv1"
)

// maxPageSize is the largest page the server returns.
const maxPageSize = 500

// ListOptions selects one page of a list. Zero values use the server's defaults.
type ListOptions struct {
	Limit  int
	Cursor string
}

func (o ListOptions) values() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return q
}

// PageFunc fetches one page of a list, e.g. a method value such as
// c.ListAccounts, or a closure over c.ListApps with its account and filter.
type PageFunc[T any] func(ctx context.Context, opts ListOptions) (*apiv1.List[T], error)

// Items iterates over every item of a list, fetching pages as it goes. After
// an error it yields the error once and stops.
func Items[T any](ctx context.Context, page PageFunc[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		opts := ListOptions{Limit: maxPageSize}
		for {
			l, err := page(ctx, opts)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range l.Items {
				if !yield(it, nil) {
					return
				}
			}
			if l.NextCursor == "" {
				return
			}
			if l.NextCursor == opts.Cursor {
				yield(zero, fmt.Errorf("client: server returned the same cursor %q twice", l.NextCursor))
				return
			}
			opts.Cursor = l.NextCursor
		}
	}
}

// ListAll returns every item of a list.
func ListAll[T any](ctx context.Context, page PageFunc[T]) ([]T, error) {
	all := []T{}
	for it, err := range Items(ctx, page) {
		if err != nil {
			return nil, err
		}
		all = append(all, it)
	}
	return all, nil
}

func list[T any](ctx context.Context, c *Client, p string, q url.Values, opts ListOptions) (*apiv1.List[T], error) {
	for k, v := range opts.values() {
		if q == nil {
			q = url.Values{}
		}
		q[k] = v
	}
	var l apiv1.List[T]
	if err := c.get(ctx, p, q, &l); err != nil {
		return nil, err
	}
	if l.Items == nil {
		l.Items = []T{}
	}
	return &l, nil
}
