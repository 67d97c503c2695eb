package eif

import (
	"encoding/hex"
)

// HashAlgorithm is the "HashAlgorithm" value in nitro-cli's measurement
// output: the Rust Debug form of the sha2 hasher, as nitro-cli documents it
// (docs/image_signing.md).
const HashAlgorithm = "Sha384 { ... }"

// MeasurementJSON returns the measurements as nitro-cli build-enclave
// prints them: serde_json's pretty form (two-space indent, keys sorted as
// in a BTreeMap) of {"Measurements": {...}}, without a trailing newline.
func (p PCRs) MeasurementJSON() []byte {
	b := []byte("{\n  \"Measurements\": {\n    \"HashAlgorithm\": \"" + HashAlgorithm + "\"")
	for i, v := range [][48]byte{p.PCR0, p.PCR1, p.PCR2} {
		b = append(b, ",\n    \"PCR"...)
		b = append(b, byte('0'+i))
		b = append(b, "\": \""...)
		b = hex.AppendEncode(b, v[:])
		b = append(b, '"')
	}
	return append(b, "\n  }\n}"...)
}
