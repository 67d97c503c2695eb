package valid

import (
	"encoding/hex"
	"strings"

	"github.com/openccm/openccm/internal/errs"
)

// Hex normalises a hex value of exactly n bytes: surrounding space and a
// leading 0x/0X are dropped, upper case is accepted, the result is lower case.
func Hex(field, s string, n int) (string, error) {
	h := strings.TrimSpace(s)
	if len(h) >= 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X') {
		h = h[2:]
	}
	if h == "" {
		return "", errs.Invalidf(field, "is required (%d hex characters)", 2*n)
	}
	if len(h) != 2*n {
		return "", errs.Invalidf(field, "must be %d hex characters (%d bytes), got %d", 2*n, n, len(h))
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", errs.Invalidf(field, "must be hexadecimal (0-9, a-f)")
	}
	return hex.EncodeToString(b), nil
}
