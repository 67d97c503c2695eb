// Package ids makes the identifiers of stored objects: UUIDv7, so that the
// natural order of IDs is creation order and lists can page by ID.
package ids

import "github.com/google/uuid"

// New returns a new UUIDv7 string.
func New() string {
	return uuid.Must(uuid.NewV7()).String()
}

// Valid reports whether s is a UUID in canonical lower-case form.
func Valid(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}
