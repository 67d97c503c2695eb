package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"
)

// timeScan scans a time column: a time.Time (PostgreSQL) or text in
// timeLayout (SQLite). The result is in UTC.
type timeScan struct{ dst *time.Time }

func (s timeScan) Scan(src any) error {
	t, err := parseTime(src)
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("sqlstore: NULL in a NOT NULL time column")
	}
	*s.dst = *t
	return nil
}

// nullTimeScan scans a nullable time column; NULL is a nil pointer.
type nullTimeScan struct{ dst **time.Time }

func (s nullTimeScan) Scan(src any) error {
	t, err := parseTime(src)
	if err != nil {
		return err
	}
	*s.dst = t
	return nil
}

func parseTime(src any) (*time.Time, error) {
	var t time.Time
	switch v := src.(type) {
	case nil:
		return nil, nil
	case time.Time:
		t = v.UTC()
	case string:
		return parseTimeText(v)
	case []byte:
		return parseTimeText(string(v))
	default:
		return nil, fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return &t, nil
}

func parseTimeText(s string) (*time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		// Not written by us; accept any RFC 3339 time.
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, fmt.Errorf("sqlstore: bad time in the database: %w", err)
		}
	}
	t = t.UTC()
	return &t, nil
}

// jsonList is the JSON text stored for a list; nil is stored as [].
func jsonList[T any](v []T) string {
	if v == nil {
		v = []T{}
	}
	// Marshalling lists of strings and ints cannot fail.
	b, _ := json.Marshal(v)
	return string(b)
}

// jsonMap is the JSON text stored for a map; nil is stored as {}.
func jsonMap[V any](v map[string]V) string {
	if v == nil {
		v = map[string]V{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// listScan scans a JSON list column; the result is never nil.
type listScan[T any] struct{ dst *[]T }

func (s listScan[T]) Scan(src any) error {
	var v []T
	if err := unmarshalColumn(src, &v); err != nil {
		return err
	}
	if v == nil {
		v = []T{}
	}
	*s.dst = v
	return nil
}

// mapScan scans a JSON object column; the result is never nil.
type mapScan[V any] struct{ dst *map[string]V }

func (s mapScan[V]) Scan(src any) error {
	var v map[string]V
	if err := unmarshalColumn(src, &v); err != nil {
		return err
	}
	if v == nil {
		v = map[string]V{}
	}
	*s.dst = v
	return nil
}

func unmarshalColumn(src, dst any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("sqlstore: cannot scan %T as JSON", src)
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("sqlstore: bad JSON in the database: %w", err)
	}
	return nil
}

// blob is b as stored in a NOT NULL binary column: nil becomes empty.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// jsonObject is the JSON text stored for a struct such as
// store.Measurements. Unlike lists of strings, a struct can fail to
// marshal (a NaN float), so the error is returned.
func jsonObject(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding %T: %w", v, err)
	}
	return string(b), nil
}

// objectScan scans a JSON object column into a struct: it reads back what
// encoding/json gives, so an omitempty field stored empty reads back as
// its zero value (an empty map as nil).
type objectScan[T any] struct{ dst *T }

func (s objectScan[T]) Scan(src any) error {
	var v T
	if err := unmarshalColumn(src, &v); err != nil {
		return err
	}
	*s.dst = v
	return nil
}

// nullText stores s in a nullable text column: "" is NULL, so that a
// UNIQUE constraint on the column ignores the rows that have no value.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullTextScan scans a nullable text column; NULL is "".
type nullTextScan struct{ dst *string }

func (s nullTextScan) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.dst = ""
	case string:
		*s.dst = v
	case []byte:
		*s.dst = string(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T as text", src)
	}
	return nil
}

// nullBlob stores b in a nullable binary column: empty is NULL, which
// reads back as nil on both dialects (an empty non-NULL value reads back
// as nil from SQLite but as []byte{} from PostgreSQL).
func nullBlob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
