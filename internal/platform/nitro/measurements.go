// Package nitro reads AWS Nitro Enclaves measurements: the PCR values that
// nitro-cli prints when it builds or describes an enclave image file (EIF),
// which an image is approved by.
package nitro

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/openccm/openccm/internal/errs"
)

// MaxMeasurementJSON is the largest measurement JSON accepted, in bytes.
// describe-eif output with metadata is a few KiB.
const MaxMeasurementJSON = 64 << 10

// pcrHexLen is the length of a SHA-384 PCR value in hex.
const pcrHexLen = 96

// Measurements are an enclave image's PCR values as lower-case hex, 96
// characters each (SHA-384).
type Measurements struct {
	PCR0 string // the whole enclave image file
	PCR1 string // the kernel and boot ramdisk
	PCR2 string // the application
	PCR8 string // the signing certificate; empty for an unsigned image
}

// ParseMeasurements reads the measurement JSON that nitro-cli prints. It
// accepts the output of `nitro-cli build-enclave`
// ({"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": …}}), that
// of `nitro-cli describe-eif` (the same member beside EifVersion, IsSigned,
// CheckCRC and others, which are ignored), and the Measurements object on its
// own. Lines of prose before the JSON, such as the progress messages
// nitro-cli writes to stderr, are skipped, so a terminal's output can be
// pasted whole.
//
// PCR0, PCR1 and PCR2 are required, PCR8 is optional; values may be upper
// case and have a 0x prefix. All-zero values are refused: a Nitro enclave in
// debug mode reports zero PCRs, so approving them would approve every debug
// enclave.
func ParseMeasurements(text string) (*Measurements, error) {
	if len(text) > MaxMeasurementJSON {
		return nil, invalid("nitro: measurement JSON is %d bytes, more than the %d KiB allowed", len(text), MaxMeasurementJSON>>10)
	}
	text = skipLeadingLines(text)
	if text == "" {
		return nil, invalid("nitro: measurement JSON is empty")
	}
	dec := json.NewDecoder(strings.NewReader(text))
	top, err := readObject(dec, "measurement JSON")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid("nitro: measurement JSON has more after its object")
	}

	raw, wrapped := lookup(top, "Measurements")
	switch {
	case wrapped:
		for _, m := range top {
			if isMeasurementName(m.name) {
				return nil, invalid("nitro: measurement JSON has %q both beside and inside Measurements", short(m.name))
			}
		}
		members, err := readObject(json.NewDecoder(bytes.NewReader(raw)), "Measurements")
		if err != nil {
			return nil, err
		}
		return parseMembers(members)
	case slices.ContainsFunc(top, func(m member) bool { return isMeasurementName(m.name) }):
		return parseMembers(top) // the Measurements object on its own
	default:
		return nil, invalid("nitro: measurement JSON has neither a Measurements object nor PCR values")
	}
}

// isMeasurementName reports whether name is a member of nitro-cli's
// Measurements object.
func isMeasurementName(name string) bool {
	switch canon(name) {
	case "HASHALGORITHM", "PCR0", "PCR1", "PCR2", "PCR8":
		return true
	}
	return false
}

// member is one name/value pair of a JSON object, in document order.
type member struct {
	name  string
	value json.RawMessage
}

// readObject reads one JSON object and returns its members. Names are
// matched without regard to ASCII case, so a name given twice in any case is
// refused: two different PCR0 values must not silently resolve to one.
func readObject(dec *json.Decoder, what string) ([]member, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, wrapSyntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, invalid("nitro: %s is not a JSON object", what)
	}
	var ms []member
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, wrapSyntax(err)
		}
		name, ok := tok.(string)
		if !ok { // Token returns object keys as strings; be sure
			return nil, invalid("nitro: %s has a member without a name", what)
		}
		key := canon(name)
		if seen[key] {
			return nil, invalid("nitro: %s has %q twice", what, short(name))
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, wrapSyntax(err)
		}
		ms = append(ms, member{name, v})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, wrapSyntax(err)
	}
	return ms, nil
}

func lookup(ms []member, name string) (json.RawMessage, bool) {
	for _, m := range ms {
		if canon(m.name) == canon(name) {
			return m.value, true
		}
	}
	return nil, false
}

// parseMembers reads the members of a Measurements object. Unknown members
// are refused: this object holds nothing but the hash algorithm and PCRs.
func parseMembers(ms []member) (*Measurements, error) {
	var out Measurements
	for _, m := range ms {
		var s string
		if err := json.Unmarshal(m.value, &s); err != nil {
			return nil, invalid("nitro: measurement JSON member %q is not a string", short(m.name))
		}
		var dst *string
		name := canon(m.name)
		switch name {
		case "HASHALGORITHM":
			if !isSHA384(s) {
				return nil, invalid("nitro: measurement JSON hash algorithm is %q, want Sha384", short(s))
			}
			continue
		case "PCR0":
			dst = &out.PCR0
		case "PCR1":
			dst = &out.PCR1
		case "PCR2":
			dst = &out.PCR2
		case "PCR8":
			dst = &out.PCR8
		default:
			return nil, invalid("nitro: measurement JSON has an unknown member %q among the PCRs", short(m.name))
		}
		v, err := pcrHex(name, s)
		if err != nil {
			return nil, err
		}
		*dst = v
	}
	for _, p := range []struct {
		name  string
		value string
	}{{"PCR0", out.PCR0}, {"PCR1", out.PCR1}, {"PCR2", out.PCR2}} {
		if p.value == "" {
			return nil, invalid("nitro: measurement JSON has no %s", p.name)
		}
	}
	return &out, nil
}

// isSHA384 reports whether s names SHA-384 the way nitro-cli does: the Rust
// Debug form of its hasher, "Sha384 { ... }".
func isSHA384(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < len("sha384") || canon(s[:len("sha384")]) != "SHA384" {
		return false
	}
	rest := s[len("sha384"):]
	return rest == "" || rest[0] == ' ' || rest[0] == '{' || rest[0] == '('
}

// pcrHex normalises one PCR value to 96 lower-case hex characters.
func pcrHex(name, s string) (string, error) {
	h := strings.TrimSpace(s)
	if len(h) >= 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X') {
		h = h[2:]
	}
	if len(h) != pcrHexLen {
		return "", invalid("nitro: %s must be %d hex characters (SHA-384), got %d", name, pcrHexLen, len(h))
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", invalid("nitro: %s is not hexadecimal", name)
	}
	if allZero(b) {
		return "", invalid("nitro: %s is all zeros, the value of an enclave in debug mode", name)
	}
	return hex.EncodeToString(b), nil
}

// skipLeadingLines drops whole lines of prose (lines that start with a
// letter) before the JSON, and the surrounding space.
func skipLeadingLines(text string) string {
	text = strings.TrimSpace(text)
	for r, _ := utf8.DecodeRuneInString(text); unicode.IsLetter(r); r, _ = utf8.DecodeRuneInString(text) {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			return text // one line of prose: let the parser say what is wrong
		}
		text = strings.TrimSpace(text[i+1:])
	}
	return text
}

// canon returns an object member's name for matching: upper case when it is
// ASCII, unchanged otherwise (Unicode case folding would let "ſ" stand for "S").
func canon(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return name
		}
	}
	return strings.ToUpper(name)
}

// short cuts s for quoting in an error message.
func short(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit]) + "…"
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func wrapSyntax(err error) error {
	e := errs.Invalidf("measurement_json", "nitro: measurement JSON is not valid JSON")
	e.Err = err
	return e
}

func invalid(format string, args ...any) error {
	return errs.Invalidf("measurement_json", format, args...)
}
