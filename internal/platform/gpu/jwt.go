package gpu

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// verified is a JWT whose signature verified with a key of the key set and
// whose time claims hold.
type verified struct {
	kid     string
	payload []byte
}

// timeClaims are the registered claims judged against the clock. They are
// NumericDates: seconds since the epoch, possibly fractional.
type timeClaims struct {
	Expiry    *json.Number `json:"exp"`
	NotBefore *json.Number `json:"nbf"`
	IssuedAt  *json.Number `json:"iat"`
}

// verifyJWT checks a compact JWT's algorithm, finds its key by kid, checks
// its signature, and judges exp, nbf and iat at now. This is the only
// cryptographic step.
func (v *Verifier) verifyJWT(s string, now time.Time) (*verified, error) {
	jws, err := jose.ParseSignedCompact(s, allowedAlgs)
	if err != nil {
		var alg *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &alg) {
			return nil, fmt.Errorf("signature algorithm %q is not allowed (ES384, ES256, RS256 or PS256)", alg.Got)
		}
		return nil, fmt.Errorf("not a signed JWT: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("not a singly signed JWT")
	}
	h := jws.Signatures[0].Header
	if h.KeyID == "" {
		return nil, errors.New("its header has no kid, so no key of the JWKS can be chosen")
	}
	keys := v.keys[h.KeyID]
	if len(keys) == 0 {
		return nil, fmt.Errorf("no key with kid %q in the configured JWKS (NRAS rotates its keys: is the JWKS file current?)", h.KeyID)
	}
	var payload []byte
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		if p, err := jws.Verify(k.Key); err == nil {
			payload = p
			break
		}
	}
	if payload == nil {
		return nil, fmt.Errorf("%s signature does not verify with the JWKS key %q", h.Algorithm, h.KeyID)
	}
	if err := v.checkTime(payload, now); err != nil {
		return nil, err
	}
	return &verified{kid: h.KeyID, payload: payload}, nil
}

// checkTime judges a verified payload's exp (required), nbf and iat at now,
// with the verifier's leeway.
func (v *Verifier) checkTime(payload []byte, now time.Time) error {
	var c timeClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("claims are malformed: %w", err)
	}
	if c.Expiry == nil {
		return errors.New("it has no exp claim")
	}
	exp, err := numericDate("exp", *c.Expiry)
	if err != nil {
		return err
	}
	if now.Add(-v.leeway).After(exp) {
		return fmt.Errorf("it expired at %s (now %s)", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	for _, tc := range []struct {
		name string
		n    *json.Number
	}{{"nbf", c.NotBefore}, {"iat", c.IssuedAt}} {
		if tc.n == nil {
			continue
		}
		t, err := numericDate(tc.name, *tc.n)
		if err != nil {
			return err
		}
		if now.Add(v.leeway).Before(t) {
			return fmt.Errorf("its %s %s is in the future (now %s)", tc.name, t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// maxNumericDate bounds NumericDates to years before 10000, so that
// converting them cannot overflow.
const maxNumericDate = 253402300799

// numericDate reads a NumericDate (RFC 7519 section 2): seconds since the
// epoch, to the second.
func numericDate(name string, n json.Number) (time.Time, error) {
	f, err := n.Float64()
	if err != nil || f < 0 || f > maxNumericDate {
		return time.Time{}, fmt.Errorf("its %s claim %q is not a date", name, n.String())
	}
	return time.Unix(int64(f), 0), nil
}
