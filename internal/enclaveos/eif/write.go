package eif

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// defaultMetadata is written when Input.Metadata is empty and the version
// has a metadata section. It has the shape of EifIdentityInfo, which
// nitro-cli describe-eif decodes, with no build time so that output stays
// reproducible.
const defaultMetadata = `{"ImageName":"","ImageVersion":"","BuildMetadata":{"BuildTime":"","BuildTool":"openccm","BuildToolVersion":"","OperatingSystem":"","KernelVersion":""},"DockerInfo":null,"CustomMetadata":null}`

// Input is what an EIF is built from.
type Input struct {
	Kernel []byte
	// Cmdline is the kernel command line. One trailing NUL is dropped:
	// the reference builder stores the bytes of a Rust CString, which has
	// no terminator, and rejects interior NULs.
	Cmdline []byte
	// Ramdisks are written and measured in order. The first is the
	// bootstrap ramdisk measured into PCR1; the others go into PCR2.
	Ramdisks [][]byte
	// Metadata is the JSON body of the metadata section (version 4 and
	// later). When empty, a fixed EifIdentityInfo-shaped document without
	// timestamps is written. nitro-cli expects EifIdentityInfo fields.
	Metadata []byte
	// Version is the header version; zero means CurrentVersion.
	// Versions 2 to 4 can be written.
	Version uint16
	// Flags is the header flags field, e.g. FlagArm64.
	Flags uint16
	// DefaultMem (bytes) and DefaultCPUs go into the header; zero means
	// the reference builder's defaults, DefaultMem and DefaultCPUs.
	DefaultMem  uint64
	DefaultCPUs uint64
}

// section is one section as it appears in the file.
type section struct {
	typ  SectionType
	data []byte
}

func trimCmdline(c []byte) []byte {
	if n := len(c); n > 0 && c[n-1] == 0 {
		return c[:n-1]
	}
	return c
}

// layout validates in and returns the header (with CRC) and the sections
// in file order.
func layout(in Input) (*header, []section, error) {
	version := in.Version
	if version == 0 {
		version = CurrentVersion
	}
	// Version 1 images carry no CRC; versions after CurrentVersion are
	// unknown.
	if version < 2 || version > CurrentVersion {
		return nil, nil, fmt.Errorf("%w: cannot write version %d", ErrUnsupportedVersion, version)
	}
	cmdline := trimCmdline(in.Cmdline)
	if bytes.IndexByte(cmdline, 0) >= 0 {
		return nil, nil, errors.New("eif: cmdline contains a NUL byte")
	}

	secs := []section{{SectionKernel, in.Kernel}, {SectionCmdline, cmdline}}
	switch {
	case version >= 4:
		md := in.Metadata
		if len(md) == 0 {
			md = []byte(defaultMetadata)
		} else if !json.Valid(md) {
			return nil, nil, errors.New("eif: metadata is not valid JSON")
		}
		secs = append(secs, section{SectionMetadata, md})
	case len(in.Metadata) > 0:
		return nil, nil, fmt.Errorf("eif: version %d has no metadata section", version)
	}
	for _, r := range in.Ramdisks {
		secs = append(secs, section{SectionRamdisk, r})
	}
	if len(secs) > MaxSections {
		return nil, nil, fmt.Errorf("eif: %d sections, at most %d fit in the header", len(secs), MaxSections)
	}

	h := &header{
		version:     version,
		flags:       in.Flags,
		defaultMem:  in.DefaultMem,
		defaultCPUs: in.DefaultCPUs,
		numSections: uint16(len(secs)),
	}
	if h.defaultMem == 0 {
		h.defaultMem = DefaultMem
	}
	if h.defaultCPUs == 0 {
		h.defaultCPUs = DefaultCPUs
	}
	// Offsets point at each section's header; sizes count data only.
	off := uint64(HeaderSize)
	for i, s := range secs {
		h.offsets[i] = off
		h.sizes[i] = uint64(len(s.data))
		off += SectionHeaderSize + uint64(len(s.data))
	}

	// The CRC covers the header without its last field, then every section
	// header and its data in file order (EifBuilder::compute_crc).
	hb := h.marshal()
	crc := crc32.Update(0, crc32.IEEETable, hb[:crcOffset])
	for _, s := range secs {
		crc = crc32.Update(crc, crc32.IEEETable, sectionHeader(s.typ, uint64(len(s.data))))
		crc = crc32.Update(crc, crc32.IEEETable, s.data)
	}
	h.crc32 = crc
	return h, secs, nil
}

// Write writes the EIF built from in to w. The same input always gives the
// same bytes.
func Write(w io.Writer, in Input) error {
	h, secs, err := layout(in)
	if err != nil {
		return err
	}
	if _, err := w.Write(h.marshal()); err != nil {
		return fmt.Errorf("eif: writing header: %w", err)
	}
	for _, s := range secs {
		if _, err := w.Write(sectionHeader(s.typ, uint64(len(s.data)))); err != nil {
			return fmt.Errorf("eif: writing %s section header: %w", s.typ, err)
		}
		if _, err := w.Write(s.data); err != nil {
			return fmt.Errorf("eif: writing %s section: %w", s.typ, err)
		}
	}
	return nil
}

// Measure returns the PCRs of the image Write would produce from in,
// without building it. Metadata is not measured.
func Measure(in Input) PCRs {
	m := newMeasurer()
	m.add(SectionKernel, in.Kernel)
	m.add(SectionCmdline, trimCmdline(in.Cmdline))
	for _, r := range in.Ramdisks {
		m.add(SectionRamdisk, r)
	}
	return m.sum()
}

// measurer feeds section data into the three running SHA-384 digests the
// way EifBuilder::measure and EifReader::from_eif do; each PCR is then a
// single extend of a zero PCR with the final digest.
type measurer struct {
	image, bootstrap, app interface {
		io.Writer
		Sum([]byte) []byte
	}
	ramdisks int
}

func newMeasurer() *measurer {
	return &measurer{image: sha512.New384(), bootstrap: sha512.New384(), app: sha512.New384()}
}

// writer returns where the data of the next section of type t goes.
func (m *measurer) writer(t SectionType) io.Writer {
	switch t {
	case SectionKernel, SectionCmdline:
		return io.MultiWriter(m.image, m.bootstrap)
	case SectionRamdisk:
		m.ramdisks++
		if m.ramdisks == 1 {
			return io.MultiWriter(m.image, m.bootstrap)
		}
		return io.MultiWriter(m.image, m.app)
	}
	return io.Discard
}

func (m *measurer) add(t SectionType, data []byte) {
	m.writer(t).Write(data)
}

func (m *measurer) sum() PCRs {
	return PCRs{
		PCR0: extend(m.image.Sum(nil)),
		PCR1: extend(m.bootstrap.Sum(nil)),
		PCR2: extend(m.app.Sum(nil)),
	}
}
