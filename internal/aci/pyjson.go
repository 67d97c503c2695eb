package aci

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// az confcom serialises with Python's json.dumps(x, sort_keys=True) and
// either separators=(",", ":") (compact, for containers) or indent=2 (for
// fragments). pyJSON writes the same bytes: keys sorted by code point,
// ensure_ascii escaping (everything outside ' '..'~' as \uXXXX in lower-case
// hex, except the short escapes \" \\ \n \r \t \b \f), and, when indenting,
// "," between items, ": " after keys and "[]"/"{}" for empty collections.
//
// Values are nil, bool, int, string, []string, []int, []any and
// map[string]any.
type pyJSON struct {
	b      strings.Builder
	indent string
}

func pyCompact(v any) (string, error) {
	var e pyJSON
	if err := e.value(v, 0); err != nil {
		return "", err
	}
	return e.b.String(), nil
}

func pyIndented(v any) (string, error) {
	e := pyJSON{indent: "  "}
	if err := e.value(v, 0); err != nil {
		return "", err
	}
	return e.b.String(), nil
}

func (e *pyJSON) value(v any, depth int) error {
	switch v := v.(type) {
	case nil:
		e.b.WriteString("null")
	case bool:
		e.b.WriteString(strconv.FormatBool(v))
	case int:
		e.b.WriteString(strconv.Itoa(v))
	case string:
		return e.str(v)
	case []string:
		if v == nil {
			e.b.WriteString("null")
			return nil
		}
		items := make([]any, len(v))
		for i, s := range v {
			items[i] = s
		}
		return e.list(items, depth)
	case []int:
		if v == nil {
			e.b.WriteString("null")
			return nil
		}
		items := make([]any, len(v))
		for i, n := range v {
			items[i] = n
		}
		return e.list(items, depth)
	case []any:
		if v == nil {
			e.b.WriteString("null")
			return nil
		}
		return e.list(v, depth)
	case map[string]any:
		return e.object(v, depth)
	default:
		return fmt.Errorf("cannot serialise %T", v)
	}
	return nil
}

func (e *pyJSON) newline(depth int) {
	if e.indent == "" {
		return
	}
	e.b.WriteByte('\n')
	for range depth {
		e.b.WriteString(e.indent)
	}
}

func (e *pyJSON) list(items []any, depth int) error {
	if len(items) == 0 {
		e.b.WriteString("[]")
		return nil
	}
	e.b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			e.b.WriteByte(',')
		}
		e.newline(depth + 1)
		if err := e.value(it, depth+1); err != nil {
			return err
		}
	}
	e.newline(depth)
	e.b.WriteByte(']')
	return nil
}

func (e *pyJSON) object(m map[string]any, depth int) error {
	if len(m) == 0 {
		e.b.WriteString("{}")
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Byte order of UTF-8 equals Python's code point order.
	slices.Sort(keys)
	e.b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			e.b.WriteByte(',')
		}
		e.newline(depth + 1)
		if err := e.str(k); err != nil {
			return err
		}
		e.b.WriteByte(':')
		if e.indent != "" {
			e.b.WriteByte(' ')
		}
		if err := e.value(m[k], depth+1); err != nil {
			return err
		}
	}
	e.newline(depth)
	e.b.WriteByte('}')
	return nil
}

var errInvalidUTF8 = errors.New("string is not valid UTF-8")

func (e *pyJSON) str(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %q", errInvalidUTF8, s)
	}
	e.b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			e.b.WriteString(`\"`)
		case '\\':
			e.b.WriteString(`\\`)
		case '\n':
			e.b.WriteString(`\n`)
		case '\r':
			e.b.WriteString(`\r`)
		case '\t':
			e.b.WriteString(`\t`)
		case '\b':
			e.b.WriteString(`\b`)
		case '\f':
			e.b.WriteString(`\f`)
		default:
			switch {
			case r >= ' ' && r <= '~':
				e.b.WriteRune(r)
			case r < 0x10000:
				fmt.Fprintf(&e.b, `\u%04x`, r)
			default:
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(&e.b, `\u%04x\u%04x`, hi, lo)
			}
		}
	}
	e.b.WriteByte('"')
	return nil
}
