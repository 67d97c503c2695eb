package nitro

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

// The recorded real document (testdata/SOURCES.md).
const (
	realModuleID = "i-02e3a660059b27d87-enc017bca11991e5083"
	realUserData = "9e2fa4bf23f2379c237925b152e4ba592b45f95a2d913d8a8b889bd9ac81bd3a" + zeros32
	realNonce    = "8013cf2d252821a740e526102b9cd3d0"
	realPCR4     = "e6faff4108a29675a01d6df042a8c0466b1c55a871dfea822b03e1b13f172b65865496eda124fb2d7d8274b27d99336f"
	zeros32      = "0000000000000000000000000000000000000000000000000000000000000000"
	zeroPCR      = zeros32 + "00000000000000000000000000000000"
)

var realTimestamp = time.UnixMilli(1631182760215).UTC() // 2021-09-09T10:19:20.215Z

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newCA(t testing.TB) *platformtest.NitroCA {
	t.Helper()
	ca, err := platformtest.NewNitroCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func makeDocument(t testing.TB, ca *platformtest.NitroCA, d platformtest.NitroDoc) []byte {
	t.Helper()
	b, err := ca.Document(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rewrap decodes doc's payload into a map, lets edit change it, and wraps
// the result in a COSE_Sign1 with doc's headers and (now wrong) signature:
// enough for the parser, which checks no signature.
func rewrap(t testing.TB, doc []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var msg cose.UntaggedSign1Message
	if err := msg.UnmarshalCBOR(doc); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := cbor.Unmarshal(msg.Payload, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	p, err := cbor.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return wrapPayload(t, msg.Headers.RawProtected, p, msg.Signature)
}

// wrapPayload writes an untagged COSE_Sign1 [protected, {}, payload,
// signature].
func wrapPayload(t testing.TB, protected, payload, sig []byte) []byte {
	t.Helper()
	b, err := cbor.Marshal([]any{cbor.RawMessage(protected), map[any]any{}, payload, sig})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// appendMember adds key: value to doc's payload map after its members,
// whatever they are (a duplicate, say), keeping doc's signature.
func appendMember(t testing.TB, doc []byte, key string, value any) []byte {
	t.Helper()
	var msg cose.UntaggedSign1Message
	if err := msg.UnmarshalCBOR(doc); err != nil {
		t.Fatal(err)
	}
	p := bytes.Clone(msg.Payload)
	if p[0] < 0xa0 || p[0] >= 0xb7 {
		t.Fatalf("payload head %#x is not a small map", p[0])
	}
	p[0]++
	for _, v := range []any{key, value} {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p = append(p, b...)
	}
	return wrapPayload(t, msg.Headers.RawProtected, p, msg.Signature)
}

func TestParseDocumentReadsTheRealSample(t *testing.T) {
	doc, err := parseDocument(readTestdata(t, "request_proper.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if doc.moduleID != realModuleID {
		t.Errorf("module_id = %q, want %q", doc.moduleID, realModuleID)
	}
	if !doc.timestamp.Equal(realTimestamp) {
		t.Errorf("timestamp = %s, want %s", doc.timestamp, realTimestamp)
	}
	if len(doc.pcrs) != 16 {
		t.Errorf("%d PCRs, want 16", len(doc.pcrs))
	}
	if got := hex.EncodeToString(doc.pcrs[4]); got != realPCR4 {
		t.Errorf("PCR4 = %s, want %s", got, realPCR4)
	}
	if got := hex.EncodeToString(doc.userData); got != realUserData {
		t.Errorf("user_data = %s, want %s", got, realUserData)
	}
	if got := hex.EncodeToString(doc.nonce); got != realNonce {
		t.Errorf("nonce = %s, want %s", got, realNonce)
	}
	if doc.publicKey != nil {
		t.Errorf("public_key = %x, want none (it is null)", doc.publicKey)
	}
	if len(doc.cabundle) != 4 || doc.cabundle[0].Subject.CommonName != "aws.nitro-enclaves" {
		t.Errorf("cabundle does not start with the AWS root: %d certificates", len(doc.cabundle))
	}
	if want := "i-02e3a660059b27d87-enc017bca11991e5083.us-west-1.aws"; doc.leaf.Subject.CommonName != want {
		t.Errorf("certificate CN = %q, want %q", doc.leaf.Subject.CommonName, want)
	}
}

func TestParseDocument(t *testing.T) {
	ca := newCA(t)
	good := makeDocument(t, ca, platformtest.NitroDoc{UserData: []byte("user data")})
	tagged := makeDocument(t, ca, platformtest.NitroDoc{Tagged: true})

	var msg cose.UntaggedSign1Message
	if err := msg.UnmarshalCBOR(good); err != nil {
		t.Fatal(err)
	}
	// Protected headers are byte strings holding a map.
	es256 := mustCBOR(t, mustCBOR(t, map[int]int{1: int(cose.AlgorithmES256)}))
	noAlg := mustCBOR(t, mustCBOR(t, map[int]int{}))

	set := func(key string, v any) func(m map[string]any) {
		return func(m map[string]any) { m[key] = v }
	}
	del := func(key string) func(m map[string]any) {
		return func(m map[string]any) { delete(m, key) }
	}
	pcrs := func(p map[any]any) func(m map[string]any) { return set("pcrs", p) }
	many := make(map[any]any)
	for i := range 33 {
		many[uint64(i)] = make([]byte, 48)
	}
	rootDER := ca.Root().Raw

	tests := []struct {
		name    string
		doc     []byte
		wantErr string // "" to accept; otherwise part of the message, and the reason is evidence_malformed
	}{
		{"accepts a generated untagged document", good, ""},
		{"accepts a tagged COSE_Sign1", tagged, ""},
		{"accepts null optional members", rewrap(t, good, set("public_key", nil)), ""},
		{"accepts empty user_data and nonce", rewrap(t, good, func(m map[string]any) { m["user_data"], m["nonce"] = []byte{}, []byte{} }), ""},
		{"accepts 32- and 64-byte PCRs", rewrap(t, good, pcrs(map[any]any{uint64(0): make([]byte, 32), uint64(1): make([]byte, 64)})), ""},

		{"rejects nothing", nil, "is empty"},
		{"rejects a document over 64 KiB", append(bytes.Clone(good), make([]byte, MaxDocument)...), "more than the 64 KiB"},
		{"rejects bytes that are not CBOR", []byte("not a COSE document"), "not a COSE_Sign1"},
		{"rejects a CBOR array of three", mustCBOR(t, []any{[]byte{}, map[any]any{}, []byte{1}}), "not a COSE_Sign1"},
		{"rejects trailing bytes after the message", append(bytes.Clone(good), 0), "not a COSE_Sign1"},
		{"rejects a COSE_Sign1 under another tag", append([]byte{0xd8, 0x62}, good...), "not a COSE_Sign1"},
		{"rejects a document signed with ES256", wrapPayload(t, es256, msg.Payload, msg.Signature), "want ES384"},
		{"rejects a protected header without an algorithm", wrapPayload(t, noAlg, msg.Payload, msg.Signature), "no usable algorithm"},
		{"rejects an empty payload", wrapPayload(t, msg.Headers.RawProtected, []byte{}, msg.Signature), "no payload"},
		{"rejects a payload over 16 KiB", wrapPayload(t, msg.Headers.RawProtected, make([]byte, maxPayload+1), msg.Signature), "more than the 16 KiB"},
		{"rejects a payload that is not a map", wrapPayload(t, msg.Headers.RawProtected, mustCBOR(t, []int{1, 2}), msg.Signature), "not the expected CBOR map"},
		{"rejects a payload with a member twice", appendMember(t, good, "user_data", []byte("other")), "not the expected CBOR map"},

		{"rejects a missing module_id", rewrap(t, good, del("module_id")), "no module_id"},
		{"rejects a module_id spelt in upper case", rewrap(t, good, func(m map[string]any) { m["MODULE_ID"] = m["module_id"]; delete(m, "module_id") }), "no module_id"},
		{"rejects an empty module_id", rewrap(t, good, set("module_id", "")), "module_id is empty"},
		{"rejects a module_id that is bytes", rewrap(t, good, set("module_id", []byte("i-0"))), "not the expected CBOR map"},
		{"rejects a missing digest", rewrap(t, good, del("digest")), "no digest"},
		{"rejects an unknown digest", rewrap(t, good, set("digest", "SHA256")), `digest is "SHA256"`},
		{"rejects a missing timestamp", rewrap(t, good, del("timestamp")), "no timestamp"},
		{"rejects a null timestamp", rewrap(t, good, set("timestamp", nil)), "no timestamp"},
		{"rejects a zero timestamp", rewrap(t, good, set("timestamp", uint64(0))), "out of range"},
		{"rejects a timestamp past int64", rewrap(t, good, set("timestamp", uint64(1)<<63)), "out of range"},
		{"rejects a negative timestamp", rewrap(t, good, set("timestamp", -1)), "not the expected CBOR map"},
		{"rejects a timestamp that is text", rewrap(t, good, set("timestamp", "2021-09-09")), "not the expected CBOR map"},
		{"rejects missing pcrs", rewrap(t, good, del("pcrs")), "no pcrs"},
		{"rejects empty pcrs", rewrap(t, good, pcrs(map[any]any{})), "has 0 PCRs"},
		{"rejects 33 PCRs", rewrap(t, good, pcrs(many)), "has 33 PCRs"},
		{"rejects PCR index 32", rewrap(t, good, pcrs(map[any]any{uint64(0): make([]byte, 48), uint64(32): make([]byte, 48)})), "PCR index 32"},
		{"rejects a negative PCR index", rewrap(t, good, pcrs(map[any]any{uint64(0): make([]byte, 48), int64(-1): make([]byte, 48)})), "not the expected CBOR map"},
		{"rejects a text PCR index", rewrap(t, good, pcrs(map[any]any{uint64(0): make([]byte, 48), "1": make([]byte, 48)})), "not the expected CBOR map"},
		{"rejects a 47-byte PCR", rewrap(t, good, pcrs(map[any]any{uint64(0): make([]byte, 47)})), "PCR0 is 47 bytes"},
		{"rejects a PCR that is text", rewrap(t, good, pcrs(map[any]any{uint64(0): strings.Repeat("0", 48)})), "not the expected CBOR map"},
		{"rejects pcrs without PCR0", rewrap(t, good, pcrs(map[any]any{uint64(1): make([]byte, 48)})), "no PCR0"},
		{"rejects pcrs that are an array", rewrap(t, good, set("pcrs", [][]byte{make([]byte, 48)})), "not the expected CBOR map"},
		{"rejects a missing certificate", rewrap(t, good, del("certificate")), "no certificate"},
		{"rejects a certificate that is not DER", rewrap(t, good, set("certificate", []byte("certificate"))), "certificate is not a DER certificate"},
		{"rejects a certificate over 1024 bytes", rewrap(t, good, set("certificate", make([]byte, 1025))), "certificate is 1025 bytes"},
		{"rejects a missing cabundle", rewrap(t, good, del("cabundle")), "no cabundle"},
		{"rejects an empty cabundle", rewrap(t, good, set("cabundle", [][]byte{})), "cabundle has 0 certificates"},
		{"rejects a cabundle of nine", rewrap(t, good, set("cabundle", [][]byte{rootDER, rootDER, rootDER, rootDER, rootDER, rootDER, rootDER, rootDER, rootDER})), "cabundle has 9 certificates"},
		{"rejects a cabundle that is one certificate", rewrap(t, good, set("cabundle", rootDER)), "not the expected CBOR map"},
		{"rejects a cabundle entry that is not DER", rewrap(t, good, set("cabundle", [][]byte{rootDER, {1, 2, 3}})), "cabundle[1] is not a DER certificate"},
		{"rejects an empty public_key", rewrap(t, good, set("public_key", []byte{})), "public_key is 0 bytes"},
		{"rejects user_data over 512 bytes", rewrap(t, good, set("user_data", make([]byte, 513))), "user_data is 513 bytes"},
		{"rejects a nonce over 512 bytes", rewrap(t, good, set("nonce", make([]byte, 513))), "nonce is 513 bytes"},
		{"rejects user_data that is text", rewrap(t, good, set("user_data", "binding")), "not the expected CBOR map"},
		{"rejects a nonce that is a number", rewrap(t, good, set("nonce", 7)), "not the expected CBOR map"},
		{"rejects user_data that is an array of bytes", rewrap(t, good, set("user_data", []any{1, 2, 3})), "not the expected CBOR map"},
		{"rejects a nonce that is undefined", rewrap(t, good, set("nonce", cbor.RawMessage{0xf7})), "not the expected CBOR map"},
		{"rejects a PCR that is an array of bytes", rewrap(t, good, pcrs(map[any]any{uint64(0): []any{1, 2, 3}})), "not the expected CBOR map"},
		{"rejects a certificate that is an array of bytes", rewrap(t, good, set("certificate", []any{0x30, 0})), "not the expected CBOR map"},
		{"rejects a cabundle entry that is an array of bytes", rewrap(t, good, set("cabundle", []any{[]any{0x30, 0}})), "not the expected CBOR map"},
		{"rejects a null certificate", rewrap(t, good, set("certificate", nil)), "no certificate"},
		{"rejects a timestamp that is a float", rewrap(t, good, set("timestamp", 1.631182760215e12)), "not the expected CBOR map"},
		{"rejects a timestamp under a tag", rewrap(t, good, set("timestamp", cbor.Tag{Number: 1, Content: uint64(1631182760)})), "not the expected CBOR map"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := parseDocument(tc.doc)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("parseDocument: %v", err)
				}
				if doc.leaf == nil || doc.msg == nil || doc.pcrs[0] == nil {
					t.Fatal("parseDocument returned an incomplete document")
				}
				return
			}
			if err == nil {
				t.Fatal("parseDocument accepted the document")
			}
			if r := platform.ReasonOf(err); r != platform.ReasonMalformed {
				t.Errorf("reason = %q, want %q (%v)", r, platform.ReasonMalformed, err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "nitro: ") {
				t.Errorf("error = %q, want it to start with \"nitro: \" and contain %q", err, tc.wantErr)
			}
		})
	}
}

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzParseDocument(f *testing.F) {
	f.Add(readTestdata(f, "request_proper.bin"))
	f.Add(readTestdata(f, "tampered_signature.bin"))
	f.Add(readTestdata(f, "tampered_certificate.bin"))
	ca := newCA(f)
	for _, d := range []platformtest.NitroDoc{
		{},
		{Tagged: true},
		{UserData: make([]byte, 32), Nonce: []byte("nonce"), PublicKey: []byte("key")},
		{PCRs: map[int][]byte{0: make([]byte, 48)}, Extra: map[string]any{"x": 1}},
	} {
		f.Add(makeDocument(f, ca, d))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := parseDocument(b)
		if err != nil {
			if platform.ReasonOf(err) != platform.ReasonMalformed {
				t.Fatalf("error without the malformed reason: %v", err)
			}
			return
		}
		if doc.leaf == nil || doc.msg == nil || len(doc.cabundle) == 0 || doc.pcrs[0] == nil || doc.timestamp.IsZero() {
			t.Fatal("parseDocument returned an incomplete document")
		}
		c := claims(doc)
		if len(c.PCRs) != len(doc.pcrs) {
			t.Fatalf("claims have %d PCRs, the document %d", len(c.PCRs), len(doc.pcrs))
		}
	})
}
