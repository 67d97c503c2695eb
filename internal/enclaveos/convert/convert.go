// Package convert builds Enclave OS images: it turns an application's
// container image into an AWS Nitro Enclaves image. The build pulls the
// input image, writes its root filesystem as the enclave's application
// ramdisk, wraps the image's command with the in-enclave agent, writes an
// EIF with the Nitro kernel blobs, and pushes an output image that holds
// the EIF, its manifest and the ccm binary that launches it. The image gets
// the EIF's PCR0..2 and the output image's digest.
package convert

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/openccm/openccm/internal/build"
	"github.com/openccm/openccm/internal/ca"
	"github.com/openccm/openccm/internal/enclaveos/eif"
	"github.com/openccm/openccm/internal/enclaveos/manifest"
	"github.com/openccm/openccm/internal/enclaveos/rootfs"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/oci"
	"github.com/openccm/openccm/internal/registry"
	"github.com/openccm/openccm/internal/store"
)

// Blobs are the files of aws-nitro-enclaves-cli's blobs folder a build needs.
type Blobs struct {
	Kernel  []byte // bzImage
	Cmdline []byte // cmdline
	Init    []byte // init
	NSM     []byte // nsm.ko
}

// BlobNames are the file names LoadBlobs reads, as nitro-cli names them.
var BlobNames = []string{"bzImage", "cmdline", "init", "nsm.ko"}

// LoadBlobs reads the blobs from dir. Every file must exist and not be empty.
func LoadBlobs(dir string) (*Blobs, error) {
	var data [4][]byte
	for i, n := range BlobNames {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("nitro blobs: %w (the directory must hold %v)", err, BlobNames)
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("nitro blobs: %s is empty", filepath.Join(dir, n))
		}
		data[i] = b
	}
	return &Blobs{Kernel: data[0], Cmdline: bytes.TrimRight(data[1], "\n"), Init: data[2], NSM: data[3]}, nil
}

// Config configures a Builder.
type Config struct {
	OCI    *oci.Client
	Images *image.Service
	CA     *ca.Service
	// Blobs are the Nitro kernel blobs; nil makes every build fail with an
	// error that says how to configure them.
	Blobs *Blobs
	// Binary is the static linux/amd64 ccm binary: the enclave's agent and
	// the output image's entrypoint.
	Binary []byte
	// ServerURL is the server's address as enclaves' parents reach it, and
	// ServerCA the PEM certificate they trust for it (empty: system roots).
	ServerURL string
	ServerCA  string
	// BaseImage names the output image's base, which must provide
	// nitro-cli; empty means an empty base. It is pulled with the output
	// credentials when it is on the output registry, else anonymously.
	BaseImage string
	Log       *slog.Logger
}

// Builder converts images; it implements build.Builder.
type Builder struct {
	c Config
}

// New returns a Builder.
func New(c Config) (*Builder, error) {
	if c.OCI == nil || c.Images == nil || c.CA == nil {
		return nil, errors.New("convert: OCI, Images and CA are required")
	}
	if len(c.Binary) == 0 {
		return nil, errors.New("convert: the ccm binary is required")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return &Builder{c: c}, nil
}

// Kind is the job kind the Builder builds.
func (b *Builder) Kind() string { return store.JobEnclaveOSConvert }

// agentCommand prefixes the image's argv inside the enclave. The agent
// checks that the certificate it gets chains to the account CA measured
// into the enclave, so a parent cannot hand it another one.
var agentCommand = []string{manifest.AgentPath, "enclave", "agent", "--ca-file", manifest.AccountCAPath, "--"}

// Build converts img's input image and pushes the output image.
func (b *Builder) Build(ctx context.Context, _ *store.Job, img *store.Image, app *store.App, p build.Progress) (image.BuildResult, error) {
	if b.c.Blobs == nil {
		return image.BuildResult{}, build.Permanent(errors.New("the server has no Nitro kernel blobs: start it with --nitro-blobs DIR (a folder with bzImage, cmdline, init and nsm.ko from aws-nitro-enclaves-cli)"))
	}
	pull, push, err := b.c.Images.BuildCredentials(ctx, img)
	if err != nil {
		return image.BuildResult{}, build.Classify(err)
	}
	in := app.InputImageName + ":" + img.Settings.InputTag
	p.Step(5, "pulling %s", in)
	src, err := b.c.OCI.Pull(ctx, in, oci.Credentials(pull))
	if err != nil {
		return image.BuildResult{}, build.Classify(err)
	}
	caCert, err := b.c.CA.Certificate(ctx, img.AccountID)
	if err != nil {
		return image.BuildResult{}, err
	}
	wrapped, err := wrap(src, b.c.Binary, []byte(ca.PEM(caCert)))
	if err != nil {
		return image.BuildResult{}, build.Classify(err)
	}

	p.Step(10, "building the root filesystem ramdisk from the image's layers")
	var app1 bytes.Buffer
	maxBytes := int64(img.Settings.MemoryMiB) << 20
	st, err := rootfs.Ramdisk(wrapped, &app1, rootfs.Options{MaxBytes: maxBytes})
	if err != nil {
		if errs.Is(errs.TooLarge, err) {
			return image.BuildResult{}, build.Permanent(fmt.Errorf("%w (the root filesystem must fit the enclave's memory_mib, %d MiB)", err, img.Settings.MemoryMiB))
		}
		return image.BuildResult{}, build.Classify(err)
	}
	p.Step(50, "root filesystem: %d files, %d directories, %d symlinks, %s of file content (ramdisk %s)",
		st.Files, st.Dirs, st.Symlinks, build.Size(st.Bytes), build.Size(int64(app1.Len())))
	if err := ctx.Err(); err != nil {
		return image.BuildResult{}, err
	}

	var boot bytes.Buffer
	if err := rootfs.Bootstrap(&boot, b.c.Blobs.Init, b.c.Blobs.NSM); err != nil {
		return image.BuildResult{}, build.Permanent(err)
	}
	eifIn := eif.Input{
		Kernel: b.c.Blobs.Kernel, Cmdline: b.c.Blobs.Cmdline,
		Ramdisks:   [][]byte{boot.Bytes(), app1.Bytes()},
		DefaultMem: uint64(img.Settings.MemoryMiB) << 20, DefaultCPUs: uint64(img.Settings.CPUCount),
	}
	var eifBuf bytes.Buffer
	eifBuf.Grow(len(eifIn.Kernel) + len(eifIn.Cmdline) + boot.Len() + app1.Len() + 64<<10)
	if err := eif.Write(&eifBuf, eifIn); err != nil {
		return image.BuildResult{}, build.Permanent(err)
	}
	pcrs := eif.Measure(eifIn)
	m := store.Measurements{PCR0: hex.EncodeToString(pcrs.PCR0[:]), PCR1: hex.EncodeToString(pcrs.PCR1[:]), PCR2: hex.EncodeToString(pcrs.PCR2[:])}
	p.Step(60, "enclave image file: %s; PCR0 %s, PCR1 %s, PCR2 %s", build.Size(int64(eifBuf.Len())), m.PCR0, m.PCR1, m.PCR2)

	man := manifest.Manifest{
		Version: 1, EIF: manifest.EIFPath, MemoryMiB: img.Settings.MemoryMiB, CPUCount: img.Settings.CPUCount,
		FilePersistence: img.Settings.FilePersistence != nil && *img.Settings.FilePersistence,
		AccountID:       img.AccountID, AppID: img.AppID, ImageID: img.ID,
		ServerURL: b.c.ServerURL, ServerCA: b.c.ServerCA, CACertificate: ca.PEM(caCert),
		CertificateEnabled: app.Certificate.Enabled, KeyPath: app.Certificate.KeyPath, CertPath: app.Certificate.CertPath,
		Measurements: map[string]string{"pcr0": m.PCR0, "pcr1": m.PCR1, "pcr2": m.PCR2},
	}
	base, err := b.base(ctx, app.OutputImageName, push, p)
	if err != nil {
		return image.BuildResult{}, err
	}
	out, err := b.output(base, eifBuf.Bytes(), &man)
	if err != nil {
		return image.BuildResult{}, build.Permanent(err)
	}
	dst := app.OutputImageName + ":" + img.Settings.OutputTag
	p.Step(70, "pushing %s", dst)
	digest, err := b.c.OCI.Push(ctx, dst, out, oci.Credentials(push))
	if err != nil {
		return image.BuildResult{}, build.Classify(err)
	}
	p.Step(95, "pushed %s@%s", dst, digest)
	return image.BuildResult{Measurements: m, OutputDigest: digest}, nil
}

// wrap returns src with the ccm binary at manifest.AgentPath, the account
// CA certificate at manifest.AccountCAPath, and its command run by the
// agent: Entrypoint = agent + the original argv (Entrypoint then Cmd, as a
// container runtime runs them), Cmd empty.
func wrap(src v1.Image, binary, accountCA []byte) (v1.Image, error) {
	cf, err := src.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	argv := append(slices.Clone(cf.Config.Entrypoint), cf.Config.Cmd...)
	if len(argv) == 0 {
		return nil, build.Permanent(errors.New("the input image has neither an entrypoint nor a cmd: the enclave would have nothing to run"))
	}
	layer, err := filesLayer([]file{{path: manifest.AgentPath, mode: 0o755, data: binary}, {path: manifest.AccountCAPath, mode: 0o644, data: accountCA}})
	if err != nil {
		return nil, err
	}
	withAgent, err := mutate.AppendLayers(src, layer)
	if err != nil {
		return nil, err
	}
	cfg := cf.Config
	cfg.Entrypoint = append(slices.Clone(agentCommand), argv...)
	cfg.Cmd = nil
	return mutate.Config(withAgent, cfg)
}

// output is the image pushed for the parent instance: the base image plus
// one layer with the ccm binary, the EIF and enclave.json, started by
// `ccm enclave run`. Timestamps are zero so that the same EIF gives the
// same digest.
func (b *Builder) output(base v1.Image, eifData []byte, man *manifest.Manifest) (v1.Image, error) {
	js, err := man.Marshal()
	if err != nil {
		return nil, err
	}
	layer, err := filesLayer([]file{
		{path: manifest.BinaryPath, mode: 0o755, data: b.c.Binary},
		{path: manifest.EIFPath, mode: 0o644, data: eifData},
		{path: manifest.Path, mode: 0o644, data: js},
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := cf.Config
	cfg.Entrypoint = []string{manifest.BinaryPath, "enclave", "run"}
	cfg.Cmd = nil
	cfg.Labels = map[string]string{}
	for k, v := range cf.Config.Labels {
		cfg.Labels[k] = v
	}
	for k, v := range man.Measurements {
		cfg.Labels["org.openccm.enclave."+k] = v
	}
	cfg.Labels["org.openccm.image-id"] = man.ImageID
	cfg.Labels["org.openccm.app-id"] = man.AppID
	img, err = mutate.Config(img, cfg)
	if err != nil {
		return nil, err
	}
	cf, err = img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.History = nil
	return mutate.ConfigFile(img, cf)
}

// base pulls the configured base image of the output image.
func (b *Builder) base(ctx context.Context, output string, push image.Credentials, p build.Progress) (v1.Image, error) {
	if b.c.BaseImage == "" {
		return empty.Image, nil
	}
	var creds oci.Credentials
	if h1, err := registry.HostOf(b.c.BaseImage); err == nil && h1 == hostOf(output) {
		creds = oci.Credentials(push)
	}
	p.Step(65, "pulling the base image %s", b.c.BaseImage)
	img, err := b.c.OCI.Pull(ctx, b.c.BaseImage, creds)
	if err != nil {
		return nil, build.Classify(fmt.Errorf("the server's enclave base image: %w", err))
	}
	return img, nil
}

func hostOf(image string) string {
	h, _ := registry.HostOf(image)
	return h
}

type file struct {
	path string
	mode int64
	data []byte
}

// filesLayer is a gzip layer holding files and their parent directories,
// with zero timestamps and owners.
func filesLayer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	n := 0
	for _, f := range files {
		n += len(f.data) + 4<<10 // content, headers and padding
	}
	buf.Grow(n)
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	epoch := time.Unix(0, 0).UTC()
	for _, f := range files {
		rel := f.path[1:]
		var parents []string
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
