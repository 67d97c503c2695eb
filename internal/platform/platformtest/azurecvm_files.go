package platformtest

import (
	"crypto/rsa"
	"crypto/sha512"
	"fmt"
	"path/filepath"
)

// The files AzureCVM.Save writes and LoadAzureCVMWith reads: the vTPM's
// keys. A VM keeps its AK, so evidence made with a loaded AzureCVM names the
// same AK every time.
const (
	AzureAKKey = "azure-ak.key" // the vTPM attestation key (RSA-2048, PKCS #8), which signs quotes
	AzureEKKey = "azure-ek.key" // the vTPM endorsement key, named in the HCL report's runtime claims
)

// Save writes the vTPM's AK and EK to dir (created if missing), mode 0600.
// The SNPCA is not saved: save it with its own Save.
func (a *AzureCVM) Save(dir string) error {
	ak, err := keyFile(AzureAKKey, "vTPM AK", a.ak)
	if err != nil {
		return err
	}
	ek, err := keyFile(AzureEKKey, "vTPM EK", a.ek)
	if err != nil {
		return err
	}
	return saveFiles(dir, ak, ek)
}

// LoadAzureCVMWith returns the AzureCVM whose keys Save wrote to dir, its
// SEV-SNP reports signed by ca; like one of NewAzureCVMWith, its Evidence
// panics on failure, and Build returns errors.
func LoadAzureCVMWith(ca *SNPCA, dir string) (*AzureCVM, error) {
	ak, err := azReadKey(dir, AzureAKKey)
	if err != nil {
		return nil, err
	}
	ek, err := azReadKey(dir, AzureEKKey)
	if err != nil {
		return nil, err
	}
	// The chip and the paravisor's measurement of NewAzureCVMWith.
	a := &AzureCVM{snp: ca, ak: ak, ek: ek, measure: sha512.Sum384([]byte("platformtest Azure CVM paravisor"))}
	a.chipID[0], a.chipID[63] = 0xa2, 0x1e
	return a, nil
}

func azReadKey(dir, name string) (*rsa.PrivateKey, error) {
	k, err := readKey(filepath.Join(dir, name), nil, "")
	if err != nil {
		return nil, err
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok || key.N.BitLen() != azAKBits {
		return nil, fmt.Errorf("platformtest: %s is not an RSA-%d key", name, azAKBits)
	}
	return key, nil
}
