//go:build cgo

package azurecvm

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/simulator"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

// simAKTemplate is an AK like Azure's at 0x81000003: a restricted RSA-2048
// signing key with the RSASSA SHA-256 scheme.
var simAKTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgRSA,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		Restricted:          true,
		SignEncrypt:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
		Scheme: tpm2.TPMTRSAScheme{
			Scheme:  tpm2.TPMAlgRSASSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
		KeyBits: 2048,
	}),
	Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: make([]byte, 256)}),
}

// simPCRs are the PCRs the simulator test quotes: more than the 8 one
// TPM2_PCR_Read returns, across all three selection bytes.
var simPCRs = []uint{0, 1, 2, 3, 4, 5, 6, 7, 11, 14, 16, 23}

// TestSimulatorQuote verifies a quote that Microsoft's reference TPM 2.0
// (go-tpm-tools' simulator) makes: an AK created in it, PCRs extended, the
// quote's qualifying data the binding. Only the HCL report around it is
// fake, naming the simulator's AK. The test needs cgo.
func TestSimulatorQuote(t *testing.T) {
	tpm, err := simulator.OpenSimulator()
	if err != nil {
		t.Fatalf("opening the TPM simulator: %v", err)
	}
	t.Cleanup(func() { tpm.Close() })

	ak, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHEndorsement,
		InPublic:      tpm2.New2B(simAKTemplate),
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("creating the AK: %v", err)
	}
	t.Cleanup(func() { tpm2.FlushContext{FlushHandle: ak.ObjectHandle}.Execute(tpm) })
	akPublic, err := ak.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	akKey, err := tpm2.Pub(*akPublic)
	if err != nil {
		t.Fatal(err)
	}

	for _, i := range []uint{0, 7, 14, 16, 23} {
		extendPCR(t, tpm, i, "openccm measured boot "+string(rune('A'+i)))
	}
	pcrs := readPCRs(t, tpm, simPCRs)

	quote := func(binding []byte) (quoted, sig []byte) {
		t.Helper()
		rsp, err := tpm2.Quote{
			SignHandle:     tpm2.NamedHandle{Handle: ak.ObjectHandle, Name: ak.Name},
			QualifyingData: tpm2.TPM2BData{Buffer: binding},
			InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
			PCRSelect:      simSelection(simPCRs),
		}.Execute(tpm)
		if err != nil {
			t.Fatalf("quoting: %v", err)
		}
		return rsp.Quoted.Bytes(), tpm2.Marshal(rsp.Signature)
	}
	quoted, sig := quote(testBinding[:])

	cvm := platformtest.NewAzureCVM(t)
	v := newTestVerifier(t, cvm)
	wrap := func(quoted, sig []byte, pcrs map[int]string) json.RawMessage {
		t.Helper()
		ev, err := cvm.Wrap(platformtest.AzureCVMTPMQuote{
			Quote:     quoted,
			Signature: sig,
			PCRs:      pcrs,
			AK:        akKey.(*rsa.PublicKey),
			AKPublic:  tpm2.Marshal(*akPublic),
		})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	ctx := context.Background()

	t.Run("accepts the simulator's quote of its PCRs with the binding", func(t *testing.T) {
		c, err := v.Verify(ctx, wrap(quoted, sig, pcrs), platform.Options{Binding: &testBinding})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.PCRs) != len(simPCRs) {
			t.Fatalf("PCRs = %v", c.PCRs)
		}
		for i, want := range pcrs {
			if c.PCRs[i] != want {
				t.Errorf("PCR%d = %s, want %s", i, c.PCRs[i], want)
			}
		}
		if c.PCRs[1] != hex.EncodeToString(make([]byte, 32)) || c.PCRs[23] == c.PCRs[1] {
			t.Errorf("PCR1 = %s (never extended), PCR23 = %s (extended)", c.PCRs[1], c.PCRs[23])
		}
	})
	t.Run("rejects the quote with another binding", func(t *testing.T) {
		other := sha256.Sum256([]byte("another binding"))
		_, err := v.Verify(ctx, wrap(quoted, sig, pcrs), platform.Options{Binding: &other})
		if platform.ReasonOf(err) != platform.ReasonBindingMismatch {
			t.Errorf("err = %v, want binding_mismatch", err)
		}
	})
	t.Run("rejects PCR values read after a further extend", func(t *testing.T) {
		extendPCR(t, tpm, 7, "a later event")
		_, err := v.Verify(ctx, wrap(quoted, sig, readPCRs(t, tpm, simPCRs)), platform.Options{Binding: &testBinding})
		if platform.ReasonOf(err) != platform.ReasonSignatureInvalid {
			t.Errorf("err = %v, want signature_invalid", err)
		}
	})
	t.Run("accepts a fresh quote of the new values", func(t *testing.T) {
		quoted, sig := quote(testBinding[:])
		if _, err := v.Verify(ctx, wrap(quoted, sig, readPCRs(t, tpm, simPCRs)), platform.Options{Binding: &testBinding}); err != nil {
			t.Fatal(err)
		}
	})
}

func simSelection(pcrs []uint) tpm2.TPMLPCRSelection {
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash:      tpm2.TPMAlgSHA256,
		PCRSelect: tpm2.PCClientCompatible.PCRs(pcrs...),
	}}}
}

func extendPCR(t *testing.T, tpm transport.TPM, pcr uint, event string) {
	t.Helper()
	d := sha256.Sum256([]byte(event))
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{
			HashAlg: tpm2.TPMAlgSHA256,
			Digest:  d[:],
		}}},
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("extending PCR%d: %v", pcr, err)
	}
}

// readPCRs reads the SHA-256 PCRs, at most 8 a command as TPM2_PCR_Read
// returns them.
func readPCRs(t *testing.T, tpm transport.TPM, pcrs []uint) map[int]string {
	t.Helper()
	out := map[int]string{}
	for chunk := range slices.Chunk(pcrs, 8) {
		rsp, err := tpm2.PCRRead{PCRSelectionIn: simSelection(chunk)}.Execute(tpm)
		if err != nil {
			t.Fatalf("reading PCRs %v: %v", chunk, err)
		}
		if len(rsp.PCRValues.Digests) != len(chunk) {
			t.Fatalf("read %d PCR values for PCRs %v", len(rsp.PCRValues.Digests), chunk)
		}
		for i, d := range rsp.PCRValues.Digests {
			out[int(chunk[i])] = hex.EncodeToString(d.Buffer)
		}
	}
	return out
}
