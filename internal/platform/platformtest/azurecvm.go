package platformtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sort"
	"sync"
)

// azureTB is the part of testing.TB that NewAzureCVM uses: this package must
// not import testing (see the package comment); *testing.T, *testing.B and
// *testing.F satisfy it.
type azureTB = interface {
	Helper()
	Fatalf(format string, args ...any)
}

// HCL report and TPM 2.0 constants. The writer lays the bytes out by hand
// (not through go-tpm), so that the verifier's parser is checked against an
// independent writer.
const (
	azHCLHeaderSize      = 0x20
	azHCLRequestDataSize = 20
	azHCLVersion         = 2 // OpenHCL's header version
	azHCLRequestAKCert   = 2
	azHCLRequestVersion  = 1
	azHCLReportTypeSNP   = 2
	// azHCLNVSize is the size of the vTPM NV index 0x01400001 holding the
	// HCL report; the paravisor zero-fills what the report leaves.
	azHCLNVSize = 2600

	tpmGeneratedValue = 0xff544347
	tpmSTAttestQuote  = 0x8018
	tpmAlgRSA         = 0x0001
	tpmAlgSHA256      = 0x000b
	tpmAlgNull        = 0x0010
	tpmAlgRSASSA      = 0x0014
	tpmAlgRSAPSS      = 0x0016
	azAKBits          = 2048
	azAKAttributes    = 1<<1 | 1<<4 | 1<<5 | 1<<6 | 1<<10 | 1<<16 | 1<<18 // fixedTPM fixedParent sensitiveDataOrigin userWithAuth noDA restricted sign
	azPCRSelectSize   = 3                                                 // PCRs 0..23
	azTCB             = uint64(0xdb18000000000004)                        // Milan: bootloader 4, SNP 24, microcode 219
	azVMUniqueID      = "0B0E2A1C-5F3D-4C6B-9E8A-7D1F2C3B4A59"
	azDefaultClock    = 1_000_000
	azDefaultFirmware = 0x2020031200120003
	azDefaultResets   = 3
	azDefaultRestarts = 0
	azDefaultSafe     = 1
)

// AzureCVMQuote is what AzureCVM.Build writes into evidence. The zero value
// (but for PCRs) is a genuine Azure CVM's evidence.
type AzureCVMQuote struct {
	// PCRs are the VM's SHA-256 PCR values by index (0..23), 64 hex
	// digits each. The quote selects exactly these and digests them.
	PCRs map[int]string
	// ExtraData is the quote's qualifying data: the binding.
	ExtraData []byte
	// VMPL is the SEV-SNP report's VMPL; Azure's paravisor reports at 0.
	VMPL uint32
	// Debug sets the debug bit of the SEV-SNP report's guest policy.
	Debug bool
	// PSS signs the quote with RSASSA-PSS rather than RSASSA-PKCS1-v1_5.
	PSS bool
	// SignWith, when set, signs the quote in the AK's place.
	SignWith *rsa.PrivateKey
	// AKPublic adds ak_public: the AK's TPMT_PUBLIC, or AKPublicKey's.
	AKPublic    bool
	AKPublicKey *rsa.PublicKey
	// RuntimeHash is the hash of the runtime claims in report_data:
	// crypto.SHA256 (the zero value), SHA384 or SHA512.
	RuntimeHash crypto.Hash
	// UserData is the runtime claims' user-data: the 64 bytes the guest
	// wrote to NV index 0x01400002 (hex in the claims).
	UserData [64]byte
}

// AzureCVM is a fake Azure confidential VM: a vTPM attestation key (a
// software RSA-2048 key), an endorsement key, a chip whose SEV-SNP reports
// an SNPCA signs, and the paravisor that binds the two in an HCL report.
// It makes azure_cvm evidence. It is safe for concurrent use.
type AzureCVM struct {
	t       azureTB
	snp     *SNPCA
	ak, ek  *rsa.PrivateKey
	chipID  [64]byte
	measure [48]byte
}

var sharedSNPCA = sync.OnceValues(NewSNPCA)

// NewAzureCVM returns an AzureCVM whose SEV-SNP reports are signed by an
// SNPCA shared by the whole process (made once: RSA-4096 keys take a second
// or two), failing t on error. Evidence fails t too.
func NewAzureCVM(t azureTB) *AzureCVM {
	t.Helper()
	ca, err := sharedSNPCA()
	if err != nil {
		t.Fatalf("%v", err)
	}
	a, err := NewAzureCVMWith(ca)
	if err != nil {
		t.Fatalf("%v", err)
	}
	a.t = t
	return a
}

// NewAzureCVMWith returns an AzureCVM whose SEV-SNP reports ca signs, with
// new RSA-2048 AK and EK keys.
func NewAzureCVMWith(ca *SNPCA) (*AzureCVM, error) {
	var ak, ek *rsa.PrivateKey
	var akErr, ekErr error
	var wg sync.WaitGroup
	wg.Go(func() { ak, akErr = rsa.GenerateKey(rand.Reader, azAKBits) })
	wg.Go(func() { ek, ekErr = rsa.GenerateKey(rand.Reader, azAKBits) })
	wg.Wait()
	if err := errors.Join(akErr, ekErr); err != nil {
		return nil, fmt.Errorf("platformtest: generating the vTPM AK and EK: %w", err)
	}
	a := &AzureCVM{snp: ca, ak: ak, ek: ek}
	a.chipID[0], a.chipID[63] = 0xa2, 0x1e
	m := sha512.Sum384([]byte("platformtest Azure CVM paravisor"))
	a.measure = m
	return a, nil
}

// RootsPEM returns the fake AMD roots (ARK then ASK) that the evidence's
// SEV-SNP reports chain to: a verifier's extra AMD roots.
func (a *AzureCVM) RootsPEM() []byte { return a.snp.RootsPEM() }

// AK returns the vTPM attestation key's public key.
func (a *AzureCVM) AK() *rsa.PublicKey { return &a.ak.PublicKey }

// Measurement returns the launch measurement of the VM's SEV-SNP reports.
func (a *AzureCVM) Measurement() [48]byte { return a.measure }

// RSAPublicArea returns pub as a TPMT_PUBLIC of a restricted RSASSA-SHA256
// signing key, as `tpm2_readpublic -c 0x81000003` reads Azure's AK (less its
// TPM2B size prefix).
func RSAPublicArea(pub *rsa.PublicKey) []byte {
	be := binary.BigEndian
	b := be.AppendUint16(nil, tpmAlgRSA)
	b = be.AppendUint16(b, tpmAlgSHA256) // nameAlg
	b = be.AppendUint32(b, azAKAttributes)
	b = be.AppendUint16(b, 0)            // authPolicy: empty
	b = be.AppendUint16(b, tpmAlgNull)   // symmetric: none
	b = be.AppendUint16(b, tpmAlgRSASSA) // scheme
	b = be.AppendUint16(b, tpmAlgSHA256) // scheme hash
	b = be.AppendUint16(b, uint16(pub.N.BitLen()))
	e := uint32(pub.E)
	if e == 65537 {
		e = 0 // the TPM's default exponent
	}
	b = be.AppendUint32(b, e)
	n := pub.N.Bytes()
	b = be.AppendUint16(b, uint16(len(n)))
	return append(b, n...)
}

// Evidence returns the evidence object of a quote of pcrs (index → SHA-256
// hex) whose extraData is binding (empty when binding is nil), with
// ak_public. It fails the TB of NewAzureCVM on error, or panics for an
// AzureCVM made by NewAzureCVMWith.
func (a *AzureCVM) Evidence(pcrs map[int]string, binding *[32]byte) json.RawMessage {
	q := AzureCVMQuote{PCRs: pcrs, AKPublic: true}
	if binding != nil {
		q.ExtraData = binding[:]
	}
	ev, err := a.Build(q)
	if err != nil {
		if a.t == nil {
			panic(err)
		}
		a.t.Helper()
		a.t.Fatalf("%v", err)
	}
	return ev
}

// azEvidence is the azure_cvm evidence object of API.md.
type azEvidence struct {
	Quote     []byte            `json:"quote"`
	Signature []byte            `json:"signature"`
	PCRs      map[string]string `json:"pcrs"`
	HCLReport []byte            `json:"hcl_report"`
	VCEK      []byte            `json:"vcek"`
	ASK       []byte            `json:"ask"`
	ARK       []byte            `json:"ark"`
	AKPublic  []byte            `json:"ak_public,omitempty"`
}

// Build makes azure_cvm evidence from q: the HCL report (the SEV-SNP report
// over the runtime claims' hash, and the claims naming the AK and EK), a
// quote of q.PCRs and its signature, the VCEK, ASK and ARK.
func (a *AzureCVM) Build(q AzureCVMQuote) (json.RawMessage, error) {
	idx := make([]int, 0, len(q.PCRs))
	values := make(map[int][]byte, len(q.PCRs))
	for i, v := range q.PCRs {
		b, err := hex.DecodeString(v)
		if err != nil || len(b) != sha256.Size || i < 0 || i >= 8*azPCRSelectSize {
			return nil, fmt.Errorf("platformtest: PCR%d = %q is not a SHA-256 PCR 0..23", i, v)
		}
		idx = append(idx, i)
		values[i] = b
	}
	sort.Ints(idx)

	hcl, vcek, err := a.hclReport(q, &a.ak.PublicKey)
	if err != nil {
		return nil, err
	}
	attest := a.quote(idx, values, q.ExtraData)
	signer := a.ak
	if q.SignWith != nil {
		signer = q.SignWith
	}
	sig, err := tpmSign(signer, attest, q.PSS)
	if err != nil {
		return nil, err
	}
	ev := azEvidence{
		Quote:     attest,
		Signature: sig,
		PCRs:      make(map[string]string, len(idx)),
		HCLReport: hcl,
		VCEK:      vcek,
		ASK:       a.snp.ask.Raw,
		ARK:       a.snp.ark.Raw,
	}
	for _, i := range idx {
		ev.PCRs[fmt.Sprintf("pcr%d", i)] = hex.EncodeToString(values[i])
	}
	if q.AKPublic {
		pub := &a.ak.PublicKey
		if q.AKPublicKey != nil {
			pub = q.AKPublicKey
		}
		ev.AKPublic = RSAPublicArea(pub)
	}
	return json.Marshal(ev)
}

// AzureCVMTPMQuote is a quote that a TPM made (a simulator's, say), for
// AzureCVM.Wrap.
type AzureCVMTPMQuote struct {
	// Quote and Signature are the TPMS_ATTEST and TPMT_SIGNATURE of
	// TPM2_Quote.
	Quote, Signature []byte
	// PCRs are the quoted PCR values by index, SHA-256 hex.
	PCRs map[int]string
	// AK is the public key of the TPM key that signed the quote.
	AK *rsa.PublicKey
	// AKPublic, when set, is the key's TPMT_PUBLIC: the evidence's
	// ak_public.
	AKPublic []byte
}

// Wrap returns azure_cvm evidence for a quote that a TPM made: an HCL
// report whose runtime claims name q.AK as the AK, and q's parts.
func (a *AzureCVM) Wrap(q AzureCVMTPMQuote) (json.RawMessage, error) {
	hcl, vcek, err := a.hclReport(AzureCVMQuote{}, q.AK)
	if err != nil {
		return nil, err
	}
	ev := azEvidence{
		Quote:     q.Quote,
		Signature: q.Signature,
		PCRs:      make(map[string]string, len(q.PCRs)),
		HCLReport: hcl,
		VCEK:      vcek,
		ASK:       a.snp.ask.Raw,
		ARK:       a.snp.ark.Raw,
		AKPublic:  q.AKPublic,
	}
	for i, v := range q.PCRs {
		ev.PCRs[fmt.Sprintf("pcr%d", i)] = v
	}
	return json.Marshal(ev)
}

// azRuntimeClaims is the runtime claims object as Azure's paravisor
// serialises it (field order, kebab-case, compact).
type azRuntimeClaims struct {
	Keys            []azJWK    `json:"keys"`
	VMConfiguration azVMConfig `json:"vm-configuration"`
	UserData        string     `json:"user-data"`
}

type azJWK struct {
	Kid    string   `json:"kid"`
	KeyOps []string `json:"key_ops"`
	Kty    string   `json:"kty"`
	E      string   `json:"e"`
	N      string   `json:"n"`
}

type azVMConfig struct {
	RootCertThumbprint string `json:"root-cert-thumbprint"`
	ConsoleEnabled     bool   `json:"console-enabled"`
	SecureBoot         bool   `json:"secure-boot"`
	TPMEnabled         bool   `json:"tpm-enabled"`
	TPMPersisted       bool   `json:"tpm-persisted"`
	VMUniqueID         string `json:"vmUniqueId"`
}

func azJWKOf(kid, op string, pub *rsa.PublicKey) azJWK {
	enc := base64.RawURLEncoding.EncodeToString
	e := binary.BigEndian.AppendUint32(nil, uint32(pub.E))
	for len(e) > 1 && e[0] == 0 {
		e = e[1:]
	}
	return azJWK{Kid: kid, KeyOps: []string{op}, Kty: "RSA", E: enc(e), N: enc(pub.N.Bytes())}
}

// hclReport lays out the HCL report naming ak as the AK, as the NV index
// holds it, and returns it with the DER of the VCEK that signed its SEV-SNP
// report. Of q it uses VMPL, Debug, RuntimeHash and UserData.
func (a *AzureCVM) hclReport(q AzureCVMQuote, ak *rsa.PublicKey) ([]byte, []byte, error) {
	claims, err := json.Marshal(azRuntimeClaims{
		Keys: []azJWK{
			azJWKOf("HCLAkPub", "sign", ak),
			azJWKOf("HCLEkPub", "encrypt", &a.ek.PublicKey),
		},
		VMConfiguration: azVMConfig{SecureBoot: true, TPMEnabled: true, TPMPersisted: true, VMUniqueID: azVMUniqueID},
		UserData:        hex.EncodeToString(q.UserData[:]),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("platformtest: encoding runtime claims: %w", err)
	}
	var h hash.Hash
	var hashType uint32
	switch q.RuntimeHash {
	case 0, crypto.SHA256:
		h, hashType = sha256.New(), 1
	case crypto.SHA384:
		h, hashType = sha512.New384(), 2
	case crypto.SHA512:
		h, hashType = sha512.New(), 3
	default:
		return nil, nil, fmt.Errorf("platformtest: runtime claims hash %v is not SHA-256, SHA-384 or SHA-512", q.RuntimeHash)
	}
	h.Write(claims)
	r := SNPReport{Measurement: a.measure, VMPL: q.VMPL, ChipID: a.chipID, TCB: azTCB, Debug: q.Debug}
	copy(r.ReportData[:], h.Sum(nil))
	snp, vcek, err := a.snp.SignReport(r)
	if err != nil {
		return nil, nil, err
	}

	le := binary.LittleEndian
	size := azHCLHeaderSize + len(snp) + azHCLRequestDataSize + len(claims)
	b := make([]byte, max(size, azHCLNVSize))
	copy(b, "HCLA")
	le.PutUint32(b[4:], azHCLVersion)
	le.PutUint32(b[8:], uint32(size))
	le.PutUint32(b[12:], azHCLRequestAKCert)
	copy(b[azHCLHeaderSize:], snp)
	rd := b[azHCLHeaderSize+len(snp):]
	le.PutUint32(rd[0:], uint32(azHCLRequestDataSize+len(claims)))
	le.PutUint32(rd[4:], azHCLRequestVersion)
	le.PutUint32(rd[8:], azHCLReportTypeSNP)
	le.PutUint32(rd[12:], hashType)
	le.PutUint32(rd[16:], uint32(len(claims)))
	copy(rd[azHCLRequestDataSize:], claims)
	return b, vcek.Raw, nil
}

// quote lays out the TPMS_ATTEST of a TPM2_Quote of the PCRs idx (in
// increasing order) of the SHA-256 bank.
func (a *AzureCVM) quote(idx []int, values map[int][]byte, extraData []byte) []byte {
	be := binary.BigEndian
	name := sha256.Sum256(RSAPublicArea(&a.ak.PublicKey))
	b := be.AppendUint32(nil, tpmGeneratedValue)
	b = be.AppendUint16(b, tpmSTAttestQuote)
	b = be.AppendUint16(b, 2+sha256.Size) // qualifiedSigner: a TPM2B_NAME
	b = be.AppendUint16(b, tpmAlgSHA256)
	b = append(b, name[:]...)
	b = be.AppendUint16(b, uint16(len(extraData)))
	b = append(b, extraData...)
	b = be.AppendUint64(b, azDefaultClock)
	b = be.AppendUint32(b, azDefaultResets)
	b = be.AppendUint32(b, azDefaultRestarts)
	b = append(b, azDefaultSafe)
	b = be.AppendUint64(b, azDefaultFirmware)
	b = be.AppendUint32(b, 1) // one TPMS_PCR_SELECTION
	b = be.AppendUint16(b, tpmAlgSHA256)
	b = append(b, azPCRSelectSize)
	var sel [azPCRSelectSize]byte
	digest := sha256.New()
	for _, i := range idx {
		sel[i/8] |= 1 << (i % 8)
		digest.Write(values[i])
	}
	b = append(b, sel[:]...)
	b = be.AppendUint16(b, sha256.Size)
	return digest.Sum(b)
}

// tpmSign signs a TPMS_ATTEST and returns the TPMT_SIGNATURE.
func tpmSign(key *rsa.PrivateKey, attest []byte, pss bool) ([]byte, error) {
	d := sha256.Sum256(attest)
	alg := uint16(tpmAlgRSASSA)
	var sig []byte
	var err error
	if pss {
		alg = tpmAlgRSAPSS
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	}
	if err != nil {
		return nil, fmt.Errorf("platformtest: signing the quote: %w", err)
	}
	be := binary.BigEndian
	b := be.AppendUint16(nil, alg)
	b = be.AppendUint16(b, tpmAlgSHA256)
	b = be.AppendUint16(b, uint16(len(sig)))
	return append(b, sig...), nil
}
