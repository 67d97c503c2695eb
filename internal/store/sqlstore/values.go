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
