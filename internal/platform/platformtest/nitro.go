package platformtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"
)

// The files NitroCA.Save writes and LoadNitroCA reads. NitroRootFile is what
// a server's extra Nitro roots take.
const (
	NitroRootFile         = "nitro-root.pem"         // the fake root certificate
	NitroRootKey          = "nitro-root.key"         // its private key (PKCS #8), which renews the intermediate
	NitroIntermediateFile = "nitro-intermediate.pem" // the intermediate certificate
	NitroIntermediateKey  = "nitro-intermediate.key" // its private key (PKCS #8), which signs leaves
)

const (
	nitroRootValidity         = 10 * 365 * 24 * time.Hour
	nitroIntermediateValidity = 365 * 24 * time.Hour
	nitroLeafValidity         = 3 * time.Hour // as AWS's document certificates
	nitroBackdate             = time.Hour     // tolerate clocks behind ours
	nitroDefaultModuleID      = "i-0123456789abcdef0-enc0123456789abcdef"
	nitroDefaultPCRs          = 16 // real documents carry PCR0 to PCR15
)

// NitroCA is a fake AWS Nitro Enclaves PKI: a self-signed ECDSA P-384 root
// and an intermediate that issues a short-lived leaf for each document, as
// the Nitro hypervisor's CA does. Every NitroCA uses the same names, so a
// verifier that trusts one and is shown another meets a root of the right
// name with the wrong key.
type NitroCA struct {
	root     *x509.Certificate
	rootKey  *ecdsa.PrivateKey
	inter    *x509.Certificate
	interKey *ecdsa.PrivateKey
}

// NitroDoc is what a NitroCA writes into an attestation document. Zero
// fields take defaults.
type NitroDoc struct {
	// ModuleID defaults to a made-up enclave ID.
	ModuleID string
	// Timestamp defaults to now; it is written in milliseconds.
	Timestamp time.Time
	// PCRs are written as given; nil means PCR0 to PCR15, with PCR0,
	// PCR1 and PCR2 set to NitroPCR(0..2) and the others zero.
	PCRs map[int][]byte
	// UserData, Nonce and PublicKey are written as null when nil, as the
	// Nitro hypervisor does for the ones an enclave does not ask for.
	UserData, Nonce, PublicKey []byte

	// LeafNotBefore and LeafNotAfter default to Timestamp (cut to the
	// second) and three hours later.
	LeafNotBefore, LeafNotAfter time.Time
	// CABundle replaces the bundle [root, intermediate] (DER), for tests
	// of forged chains.
	CABundle [][]byte
	// Extra members are added to the payload after the standard ones.
	Extra map[string]any
	// Tagged writes a tagged COSE_Sign1 (CBOR tag 18); real documents are
	// untagged.
	Tagged bool
}

// NitroPCR returns the default value of PCR i in a NitroCA's documents: the
// SHA-384 of "platformtest PCR<i>".
func NitroPCR(i int) []byte {
	sum := sha512.Sum384(fmt.Appendf(nil, "platformtest PCR%d", i))
	return sum[:]
}

// NewNitroCA makes a NitroCA with new keys.
func NewNitroCA() (*NitroCA, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("platformtest: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          nitroSerial(),
		Subject:               nitroName("openccm-test.nitro-enclaves"),
		NotBefore:             now.Add(-nitroBackdate),
		NotAfter:              now.Add(nitroRootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	root, err := nitroCreate(tmpl, tmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("platformtest: making the Nitro root: %w", err)
	}
	ca := &NitroCA{root: root, rootKey: rootKey}
	if err := ca.newIntermediate(now); err != nil {
		return nil, err
	}
	return ca, nil
}

// newIntermediate issues the CA's intermediate, valid from an hour before
// now for a year.
func (ca *NitroCA) newIntermediate(now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return fmt.Errorf("platformtest: %w", err)
	}
	notAfter := now.Add(nitroIntermediateValidity)
	if notAfter.After(ca.root.NotAfter) {
		notAfter = ca.root.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nitroSerial(),
		Subject:               nitroName("i-0123456789abcdef0.openccm-test.nitro-enclaves"),
		NotBefore:             now.Add(-nitroBackdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // like AWS's instance CA: only leaves below it
	}
	inter, err := nitroCreate(tmpl, ca.root, &key.PublicKey, ca.rootKey)
	if err != nil {
		return fmt.Errorf("platformtest: making the Nitro intermediate: %w", err)
	}
	ca.inter, ca.interKey = inter, key
	return nil
}

// Root returns the fake root certificate.
func (ca *NitroCA) Root() *x509.Certificate { return ca.root }

// RootPEM returns the fake root certificate in PEM.
func (ca *NitroCA) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw})
}

// Intermediate returns the certificate that issues the documents' leaves.
func (ca *NitroCA) Intermediate() *x509.Certificate { return ca.inter }

// Document returns a signed attestation document: an untagged (unless
// d.Tagged) COSE_Sign1, ES384, whose payload carries d, a new leaf
// certificate issued by the intermediate, and the bundle [root,
// intermediate].
func (ca *NitroCA) Document(d NitroDoc) ([]byte, error) {
	if d.Timestamp.IsZero() {
		d.Timestamp = time.Now()
	}
	if d.ModuleID == "" {
		d.ModuleID = nitroDefaultModuleID
	}
	pcrs := d.PCRs
	if pcrs == nil {
		pcrs = make(map[int][]byte, nitroDefaultPCRs)
		for i := range nitroDefaultPCRs {
			pcrs[i] = make([]byte, sha512.Size384)
		}
		for i := range 3 {
			pcrs[i] = NitroPCR(i)
		}
	}
	notBefore, notAfter := d.LeafNotBefore, d.LeafNotAfter
	if notBefore.IsZero() {
		notBefore = d.Timestamp.Truncate(time.Second)
	}
	if notAfter.IsZero() {
		notAfter = notBefore.Add(nitroLeafValidity)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("platformtest: %w", err)
	}
	leaf, err := nitroCreate(&x509.Certificate{
		SerialNumber:          nitroSerial(),
		Subject:               nitroName(d.ModuleID + ".openccm-test.aws"),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
	}, ca.inter, &leafKey.PublicKey, ca.interKey)
	if err != nil {
		return nil, fmt.Errorf("platformtest: making the document's certificate: %w", err)
	}
	bundle := d.CABundle
	if bundle == nil {
		bundle = [][]byte{ca.root.Raw, ca.inter.Raw}
	}

	// The members in the order the Nitro hypervisor writes them.
	m := nitroMap{
		{"module_id", d.ModuleID},
		{"digest", "SHA384"},
		{"timestamp", uint64(d.Timestamp.UnixMilli())},
		{"pcrs", pcrs},
		{"certificate", leaf.Raw},
		{"cabundle", bundle},
		{"public_key", d.PublicKey},
		{"user_data", d.UserData},
		{"nonce", d.Nonce},
	}
	for _, k := range slices.Sorted(maps.Keys(d.Extra)) {
		m = append(m, nitroMember{k, d.Extra[k]})
	}
	payload, err := m.marshal()
	if err != nil {
		return nil, fmt.Errorf("platformtest: encoding the document: %w", err)
	}

	signer, err := cose.NewSigner(cose.AlgorithmES384, leafKey)
	if err != nil {
		return nil, fmt.Errorf("platformtest: %w", err)
	}
	msg := cose.Sign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES384}},
		Payload: payload,
	}
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		return nil, fmt.Errorf("platformtest: signing the document: %w", err)
	}
	if d.Tagged {
		return msg.MarshalCBOR()
	}
	return (*cose.UntaggedSign1Message)(&msg).MarshalCBOR()
}

// Evidence returns Document(d) as the evidence object of /v1/attest:
// {"document": "<base64>"}.
func (ca *NitroCA) Evidence(d NitroDoc) (json.RawMessage, error) {
	doc, err := ca.Document(d)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{"document": base64.StdEncoding.EncodeToString(doc)})
}

// Save writes ca to dir (created if missing) under the Nitro*File names;
// the keys get mode 0600.
func (ca *NitroCA) Save(dir string) error {
	rootKey, err := keyFile(NitroRootKey, "Nitro root", ca.rootKey)
	if err != nil {
		return err
	}
	interKey, err := keyFile(NitroIntermediateKey, "Nitro intermediate", ca.interKey)
	if err != nil {
		return err
	}
	return saveFiles(dir, file{NitroRootFile, ca.RootPEM(), 0o644}, rootKey, certFile(NitroIntermediateFile, ca.inter), interKey)
}

// LoadNitroCA reads a NitroCA that Save wrote to dir. When the saved
// intermediate is missing or no longer valid, a new one is issued (in
// memory; Save writes it).
func LoadNitroCA(dir string) (*NitroCA, error) {
	root, err := readCert(filepath.Join(dir, NitroRootFile))
	if err != nil {
		return nil, err
	}
	rootKey, err := nitroReadKey(filepath.Join(dir, NitroRootKey), root)
	if err != nil {
		return nil, err
	}
	ca := &NitroCA{root: root, rootKey: rootKey}
	now := time.Now()
	inter, err := readCert(filepath.Join(dir, NitroIntermediateFile))
	if errors.Is(err, os.ErrNotExist) {
		return ca, ca.newIntermediate(now)
	}
	if err != nil {
		return nil, err
	}
	interKey, err := nitroReadKey(filepath.Join(dir, NitroIntermediateKey), inter)
	if err != nil {
		return nil, err
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("platformtest: %s is not signed by %s: %w", NitroIntermediateFile, NitroRootFile, err)
	}
	if now.Before(inter.NotBefore) || now.Add(nitroLeafValidity).After(inter.NotAfter) {
		return ca, ca.newIntermediate(now)
	}
	ca.inter, ca.interKey = inter, interKey
	return ca, nil
}

// nitroReadKey reads the ECDSA private key of cert.
func nitroReadKey(path string, cert *x509.Certificate) (*ecdsa.PrivateKey, error) {
	k, err := readKey(path, cert.PublicKey, filepath.Base(path)+"'s certificate")
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("platformtest: %s is not an ECDSA key", path)
	}
	return ek, nil
}

func nitroName(cn string) pkix.Name {
	return pkix.Name{
		Country:            []string{"US"},
		Organization:       []string{"OpenCCM platformtest"},
		OrganizationalUnit: []string{"fake AWS"},
		CommonName:         cn,
	}
}

func nitroSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}

func nitroCreate(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// nitroEncoder sorts map keys (the PCRs) as the Nitro hypervisor does and
// writes nil byte strings as null.
var nitroEncoder = func() cbor.EncMode {
	em, err := cbor.EncOptions{Sort: cbor.SortCoreDeterministic}.EncMode()
	if err != nil {
		panic(err) // the options are constant
	}
	return em
}()

// nitroMap is a CBOR map written in the order of its members: the Nitro
// hypervisor writes the document's members in declaration order, not
// sorted.
type nitroMap []nitroMember

type nitroMember struct {
	key   string
	value any
}

func (m nitroMap) marshal() ([]byte, error) {
	var buf bytes.Buffer
	// The map's head: major type 5 and the number of pairs.
	switch n := len(m); {
	case n < 24:
		buf.WriteByte(0xa0 | byte(n))
	case n < 256:
		buf.Write([]byte{0xb8, byte(n)})
	default:
		return nil, errors.New("too many members")
	}
	for _, mb := range m {
		for _, v := range []any{mb.key, mb.value} {
			b, err := nitroEncoder.Marshal(v)
			if err != nil {
				return nil, err
			}
			buf.Write(b)
		}
	}
	return buf.Bytes(), nil
}
