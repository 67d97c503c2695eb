package aci

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// The expected strings were printed by CPython 3's json.dumps with the
// arguments az confcom uses.
func TestPyJSONMatchesPython(t *testing.T) {
	value := []any{
		"a\"b\\c\n\r\t\b\f\x01\x7f é€😀 <>&/'",
		map[string]any{"b": []string{}, "a": map[string]any{}, "é": nil, "Z": 1, "_": true},
	}
	tests := []struct {
		name string
		enc  func(any) (string, error)
		v    any
		want string
	}{
		{
			name: "compact output sorts keys and escapes like ensure_ascii",
			enc:  pyCompact,
			v:    value,
			want: `["a\"b\\c\n\r\t\b\f\u0001\u007f \u00e9\u20ac\ud83d\ude00 <>&/'",{"Z":1,"_":true,"a":{},"b":[],"\u00e9":null}]`,
		},
		{
			name: "indented output uses two spaces and keeps empty collections inline",
			enc:  pyIndented,
			v:    []any{map[string]any{"b": []int{1, 2}, "a": map[string]any{}}, []any{}, "x"},
			want: "[\n  {\n    \"a\": {},\n    \"b\": [\n      1,\n      2\n    ]\n  },\n  [],\n  \"x\"\n]",
		},
		{
			name: "a nil list is null",
			enc:  pyCompact,
			v:    map[string]any{"command": []string(nil)},
			want: `{"command":null}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.enc(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestPyJSONRejectsUnknownTypes(t *testing.T) {
	if _, err := pyCompact(1.5); err == nil {
		t.Fatal("a float was serialised")
	}
}

// FuzzPyJSONString checks that every string is written as ASCII JSON that
// decodes to the same string.
func FuzzPyJSONString(f *testing.F) {
	for _, s := range []string{"", "PATH=/usr/bin", "a\"b\\c\n", "\x00\x1f\x7f", "é€😀", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := pyCompact(s)
		if !utf8.ValidString(s) {
			if err == nil {
				t.Fatalf("invalid UTF-8 %q was serialised", s)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := range len(got) {
			if got[i] < ' ' || got[i] > '~' {
				t.Fatalf("%q has byte %#x outside printable ASCII", got, got[i])
			}
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("%q is not JSON: %v", got, err)
		}
		if back != s {
			t.Fatalf("%q decodes to %q, want %q", got, back, s)
		}
	})
}
