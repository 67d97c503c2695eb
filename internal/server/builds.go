package server

import (
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"time"

	acibuilder "github.com/openccm/openccm/internal/aci/builder"
	"github.com/openccm/openccm/internal/build"
	"github.com/openccm/openccm/internal/buildinfo"
	"github.com/openccm/openccm/internal/config"
	"github.com/openccm/openccm/internal/core"
	"github.com/openccm/openccm/internal/enclaveos/convert"
	"github.com/openccm/openccm/internal/oci"
)

// buildRunner makes the runner of build jobs from the configuration.
// serverURL is where enclave parents reach the server and serverCA the PEM
// they trust for its TLS (the self-signed certificate), or empty.
func buildRunner(cfg config.Server, svc *core.Services, serverURL, serverCA string, log *slog.Logger) (*build.Runner, error) {
	if cfg.BuildWorkers == 0 {
		log.Info("build workers disabled: this server runs no Enclave OS or ACI builds")
		return nil, nil
	}
	reg := oci.New(oci.Config{UserAgent: "openccm/" + buildinfo.Version()})

	var blobs *convert.Blobs
	if cfg.NitroBlobs != "" {
		var err error
		if blobs, err = convert.LoadBlobs(cfg.NitroBlobs); err != nil {
			return nil, err
		}
	} else {
		log.Warn("no --nitro-blobs: Enclave OS builds will fail until the server has the Nitro kernel blobs")
	}
	binPath := cfg.EnclaveBinary
	if binPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the ccm binary for enclaves: %w (set --enclave-binary)", err)
		}
		binPath = exe
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return nil, fmt.Errorf("reading the ccm binary for enclaves: %w", err)
	}
	enclaveOS, err := convert.New(convert.Config{OCI: reg, Images: svc.Images, CA: svc.CA, Blobs: blobs, Binary: bin,
		ServerURL: serverURL, ServerCA: serverCA, BaseImage: cfg.EnclaveBaseImage, Log: log})
	if err != nil {
		return nil, err
	}
	if cfg.AgentImage == "" {
		log.Warn("no --agent-image: ACI builds will fail until the server knows the attestation agent's image")
	}
	aciPolicy, err := acibuilder.New(acibuilder.Config{OCI: reg, Images: svc.Images, CA: svc.CA, AgentImage: cfg.AgentImage,
		ServerURL: serverURL, ServerCA: serverCA})
	if err != nil {
		return nil, err
	}
	return build.New(build.Config{Store: svc.Store, Images: svc.Images, Builders: []build.Builder{enclaveOS, aciPolicy},
		Workers: cfg.BuildWorkers, Lease: time.Duration(cfg.BuildLease), Log: log.With("component", "build")})
}

func pemCertificate(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
