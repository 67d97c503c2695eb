package eif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// maxInlineSection bounds the cmdline and metadata sections, which Describe
// returns in memory.
const maxInlineSection = 1 << 20

// Section describes one section of a parsed image.
type Section struct {
	Type   SectionType
	Flags  uint16
	Offset uint64 // of the section header
	Size   uint64 // of the data
}

// Description is what Describe learns from an image.
type Description struct {
	Version     uint16
	Flags       uint16
	DefaultMem  uint64
	DefaultCPUs uint64
	CRC32       uint32
	Sections    []Section
	Cmdline     []byte
	Metadata    []byte // nil if the image has no metadata section
	// Signed reports a signature section. Its certificate (PCR8) is not
	// checked or measured here.
	Signed bool
	PCRs   PCRs
}

// Describe parses the EIF of the given size in r, checks it and
// recomputes its PCRs. It is stricter than the reference reader: the
// header's section table must match the sections exactly, the image must
// hold exactly one kernel and one cmdline section, and no bytes may follow
// the last section. The CRC is checked for version 2 and later (version 1
// predates it).
func Describe(r io.ReaderAt, size int64) (*Description, error) {
	if size < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the header", ErrMalformed, size)
	}
	hb := make([]byte, HeaderSize)
	if err := readAt(r, hb, 0); err != nil {
		return nil, fmt.Errorf("eif: reading header: %w", err)
	}
	h, err := unmarshalHeader(hb)
	if err != nil {
		return nil, err
	}
	if h.version == 0 || h.version > CurrentVersion {
		return nil, fmt.Errorf("%w: %d", ErrUnsupportedVersion, h.version)
	}
	n := int(h.numSections)
	if n > MaxSections {
		return nil, fmt.Errorf("%w: %d sections, the table holds %d", ErrMalformed, n, MaxSections)
	}
	for i := n; i < MaxSections; i++ {
		if h.offsets[i] != 0 || h.sizes[i] != 0 {
			return nil, fmt.Errorf("%w: unused section table entry %d is not zero", ErrMalformed, i)
		}
	}

	d := &Description{
		Version:     h.version,
		Flags:       h.flags,
		DefaultMem:  h.defaultMem,
		DefaultCPUs: h.defaultCPUs,
		CRC32:       h.crc32,
		Sections:    make([]Section, 0, n),
	}
	crc := crc32.NewIEEE()
	crc.Write(hb[:crcOffset])
	m := newMeasurer()
	count := map[SectionType]int{}
	pos := uint64(HeaderSize)
	end := uint64(size)
	sh := make([]byte, SectionHeaderSize)
	for i := range n {
		if end-pos < SectionHeaderSize {
			return nil, fmt.Errorf("%w: section %d header is truncated", ErrMalformed, i)
		}
		if err := readAt(r, sh, int64(pos)); err != nil {
			return nil, fmt.Errorf("eif: reading section %d header: %w", i, err)
		}
		s := Section{
			Type:   SectionType(binary.BigEndian.Uint16(sh)),
			Flags:  binary.BigEndian.Uint16(sh[2:]),
			Offset: pos,
			Size:   binary.BigEndian.Uint64(sh[4:]),
		}
		if err := checkSection(h, i, s, end, count); err != nil {
			return nil, err
		}
		crc.Write(sh)
		data := io.NewSectionReader(r, int64(pos+SectionHeaderSize), int64(s.Size))
		if err := readSection(d, s, data, crc, m.writer(s.Type)); err != nil {
			return nil, fmt.Errorf("eif: reading %s section %d: %w", s.Type, i, err)
		}
		d.Sections = append(d.Sections, s)
		pos += SectionHeaderSize + s.Size
	}
	if pos != end {
		return nil, fmt.Errorf("%w: %d bytes after the last section", ErrMalformed, end-pos)
	}
	if count[SectionKernel] != 1 || count[SectionCmdline] != 1 {
		return nil, fmt.Errorf("%w: need one kernel and one cmdline section, have %d and %d",
			ErrMalformed, count[SectionKernel], count[SectionCmdline])
	}
	if h.version >= 2 && crc.Sum32() != h.crc32 {
		return nil, fmt.Errorf("%w: header has %08x, image has %08x", ErrCRCMismatch, h.crc32, crc.Sum32())
	}
	d.Signed = count[SectionSignature] > 0
	d.PCRs = m.sum()
	return d, nil
}

// checkSection validates section i, whose header was read at s.Offset,
// against the header table and the image size, and counts it.
func checkSection(h *header, i int, s Section, end uint64, count map[SectionType]int) error {
	switch s.Type {
	case SectionKernel, SectionCmdline, SectionRamdisk:
	case SectionSignature:
		if h.version < 3 {
			return fmt.Errorf("%w: signature section in a version %d image", ErrMalformed, h.version)
		}
	case SectionMetadata:
		if h.version < 4 {
			return fmt.Errorf("%w: metadata section in a version %d image", ErrMalformed, h.version)
		}
	default:
		return fmt.Errorf("%w: section %d has invalid type %d", ErrMalformed, i, uint16(s.Type))
	}
	count[s.Type]++
	if s.Type != SectionRamdisk && count[s.Type] > 1 {
		return fmt.Errorf("%w: more than one %s section", ErrMalformed, s.Type)
	}
	if h.offsets[i] != s.Offset || h.sizes[i] != s.Size {
		return fmt.Errorf("%w: section %d is at %d with size %d, the table says %d and %d",
			ErrMalformed, i, s.Offset, s.Size, h.offsets[i], h.sizes[i])
	}
	if s.Size > end-s.Offset-SectionHeaderSize {
		return fmt.Errorf("%w: section %d is truncated", ErrMalformed, i)
	}
	if (s.Type == SectionCmdline || s.Type == SectionMetadata) && s.Size > maxInlineSection {
		return fmt.Errorf("%w: %s section of %d bytes is too large", ErrMalformed, s.Type, s.Size)
	}
	return nil
}

// readSection streams the section's data into the CRC and the PCR digests
// and keeps the cmdline and metadata.
func readSection(d *Description, s Section, data io.Reader, crc hash.Hash32, pcr io.Writer) error {
	w := io.MultiWriter(crc, pcr)
	if s.Type == SectionCmdline || s.Type == SectionMetadata {
		b := make([]byte, s.Size)
		if _, err := io.ReadFull(data, b); err != nil {
			return err
		}
		w.Write(b)
		if s.Type == SectionCmdline {
			d.Cmdline = b
		} else {
			d.Metadata = b
		}
		return nil
	}
	n, err := io.Copy(w, data)
	if err == nil && uint64(n) != s.Size {
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readAt fills b from r at off. A ReaderAt may report io.EOF along with a
// full read that ends at the end of its data; that is not an error here.
func readAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}
