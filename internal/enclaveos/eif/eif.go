// Package eif writes and reads AWS Nitro Enclaves Enclave Image Files
// (EIF) and computes their PCR0, PCR1 and PCR2 measurements the way
// nitro-cli does. The writer is deterministic, so an image rebuilt from the
// same inputs has the same bytes and the same measurements.
//
// The layout follows aws-nitro-enclaves-image-format (src/defs/mod.rs and
// src/utils/mod.rs): a 548-byte big-endian header, then sections in the
// order kernel, cmdline, metadata (version 4 and later), ramdisks, each
// preceded by a 12-byte section header.
package eif

import (
	"crypto/sha512"
	"encoding/binary"
	"errors"
)

// CurrentVersion is the EIF format version written by default
// (CURRENT_VERSION in aws-nitro-enclaves-image-format).
const CurrentVersion uint16 = 4

const (
	// HeaderSize is the size of the EIF header in bytes.
	HeaderSize = 548
	// SectionHeaderSize is the size of a section header in bytes.
	SectionHeaderSize = 12
	// MaxSections is the number of entries in the header's section table.
	MaxSections = 32

	// FlagArm64 marks an image built for aarch64 (EIF_HDR_ARCH_ARM64).
	FlagArm64 uint16 = 0x1

	// DefaultMem and DefaultCPUs are what the reference builder stores in
	// the header.
	DefaultMem  uint64 = 1024 * 1024 * 1024
	DefaultCPUs uint64 = 2

	crcOffset = HeaderSize - 4
)

var magic = [4]byte{'.', 'e', 'i', 'f'}

// SectionType identifies the content of a section.
type SectionType uint16

// Section types, in the order of the EifSectionType enum.
const (
	SectionInvalid SectionType = iota
	SectionKernel
	SectionCmdline
	SectionRamdisk
	SectionSignature
	SectionMetadata
)

func (t SectionType) String() string {
	switch t {
	case SectionInvalid:
		return "invalid"
	case SectionKernel:
		return "kernel"
	case SectionCmdline:
		return "cmdline"
	case SectionRamdisk:
		return "ramdisk"
	case SectionSignature:
		return "signature"
	case SectionMetadata:
		return "metadata"
	}
	return "unknown"
}

// Errors returned by Describe; match them with errors.Is.
var (
	ErrBadMagic           = errors.New("eif: bad magic")
	ErrUnsupportedVersion = errors.New("eif: unsupported version")
	ErrMalformed          = errors.New("eif: malformed image")
	ErrCRCMismatch        = errors.New("eif: crc32 mismatch")
)

// header is the decoded EIF header.
type header struct {
	version     uint16
	flags       uint16
	defaultMem  uint64
	defaultCPUs uint64
	reserved    uint16
	numSections uint16
	offsets     [MaxSections]uint64
	sizes       [MaxSections]uint64
	unused      uint32
	crc32       uint32
}

func (h *header) marshal() []byte {
	b := make([]byte, 0, HeaderSize)
	b = append(b, magic[:]...)
	b = binary.BigEndian.AppendUint16(b, h.version)
	b = binary.BigEndian.AppendUint16(b, h.flags)
	b = binary.BigEndian.AppendUint64(b, h.defaultMem)
	b = binary.BigEndian.AppendUint64(b, h.defaultCPUs)
	b = binary.BigEndian.AppendUint16(b, h.reserved)
	b = binary.BigEndian.AppendUint16(b, h.numSections)
	for _, o := range h.offsets {
		b = binary.BigEndian.AppendUint64(b, o)
	}
	for _, s := range h.sizes {
		b = binary.BigEndian.AppendUint64(b, s)
	}
	b = binary.BigEndian.AppendUint32(b, h.unused)
	b = binary.BigEndian.AppendUint32(b, h.crc32)
	return b
}

// unmarshalHeader decodes b, which must be HeaderSize bytes; it checks only
// the magic.
func unmarshalHeader(b []byte) (*header, error) {
	if len(b) != HeaderSize {
		return nil, ErrMalformed
	}
	if [4]byte(b[:4]) != magic {
		return nil, ErrBadMagic
	}
	be := binary.BigEndian
	h := &header{
		version:     be.Uint16(b[4:]),
		flags:       be.Uint16(b[6:]),
		defaultMem:  be.Uint64(b[8:]),
		defaultCPUs: be.Uint64(b[16:]),
		reserved:    be.Uint16(b[24:]),
		numSections: be.Uint16(b[26:]),
	}
	p := 28
	for i := range h.offsets {
		h.offsets[i] = be.Uint64(b[p:])
		p += 8
	}
	for i := range h.sizes {
		h.sizes[i] = be.Uint64(b[p:])
		p += 8
	}
	h.unused = be.Uint32(b[p:])
	h.crc32 = be.Uint32(b[p+4:])
	return h, nil
}

func sectionHeader(t SectionType, size uint64) []byte {
	b := make([]byte, 0, SectionHeaderSize)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	b = binary.BigEndian.AppendUint16(b, 0) // flags: always 0 in the reference builder
	return binary.BigEndian.AppendUint64(b, size)
}

// PCRs holds the measurements nitro-cli reports for an unsigned image.
type PCRs struct {
	PCR0 [48]byte // kernel, cmdline and all ramdisks
	PCR1 [48]byte // kernel, cmdline and the first ramdisk
	PCR2 [48]byte // the remaining ramdisks
}

// extend returns SHA-384(48 zero bytes ‖ digest): a single TPM-style extend
// of a fresh PCR, as EifHasher::tpm_extend_finalize_reset does.
func extend(digest []byte) [48]byte {
	var zero [48]byte
	h := sha512.New384()
	h.Write(zero[:])
	h.Write(digest)
	return [48]byte(h.Sum(nil))
}
