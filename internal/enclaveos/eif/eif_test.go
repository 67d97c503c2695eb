package eif

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

func sampleInput() Input {
	return Input{
		Kernel:   bytes.Repeat([]byte("kernel"), 1000),
		Cmdline:  []byte("reboot=k panic=30 pci=off nomodules console=ttyS0\x00"),
		Ramdisks: [][]byte{[]byte("bootstrap ramdisk"), []byte("app ramdisk one"), []byte("app ramdisk two")},
	}
}

func build(t testing.TB, in Input) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func describe(t testing.TB, b []byte) *Description {
	t.Helper()
	d, err := Describe(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	return d
}

// pcr computes a PCR from its definition: a zero PCR extended once with
// the SHA-384 of the concatenated parts.
func pcr(parts ...[]byte) [48]byte {
	inner := sha512.Sum384(bytes.Join(parts, nil))
	return sha512.Sum384(append(make([]byte, 48), inner[:]...))
}

func TestRoundTrip(t *testing.T) {
	in := sampleInput()
	in.DefaultMem = 512 << 20
	in.DefaultCPUs = 4
	in.Flags = FlagArm64
	b := build(t, in)
	d := describe(t, b)

	if d.Version != CurrentVersion || d.Flags != FlagArm64 || d.DefaultMem != 512<<20 || d.DefaultCPUs != 4 {
		t.Errorf("header = version %d flags %d mem %d cpus %d", d.Version, d.Flags, d.DefaultMem, d.DefaultCPUs)
	}
	wantTypes := []SectionType{SectionKernel, SectionCmdline, SectionMetadata, SectionRamdisk, SectionRamdisk, SectionRamdisk}
	if len(d.Sections) != len(wantTypes) {
		t.Fatalf("got %d sections, want %d", len(d.Sections), len(wantTypes))
	}
	for i, s := range d.Sections {
		if s.Type != wantTypes[i] {
			t.Errorf("section %d is %s, want %s", i, s.Type, wantTypes[i])
		}
	}
	if got, want := string(d.Cmdline), "reboot=k panic=30 pci=off nomodules console=ttyS0"; got != want {
		t.Errorf("cmdline = %q, want %q", got, want)
	}
	if string(d.Metadata) != defaultMetadata {
		t.Errorf("metadata = %s", d.Metadata)
	}
	if d.Signed {
		t.Error("unsigned image reported as signed")
	}
	if d.PCRs != Measure(in) {
		t.Error("Describe and Measure disagree")
	}
	if binary.BigEndian.Uint32(b[544:]) != d.CRC32 {
		t.Error("CRC32 not taken from the header")
	}
}

func TestHeaderLayout(t *testing.T) {
	in := sampleInput()
	b := build(t, in)
	be := binary.BigEndian
	if string(b[:4]) != ".eif" || be.Uint16(b[4:]) != 4 || be.Uint16(b[6:]) != 0 {
		t.Errorf("magic/version/flags = %q %d %d", b[:4], be.Uint16(b[4:]), be.Uint16(b[6:]))
	}
	if be.Uint64(b[8:]) != 1<<30 || be.Uint64(b[16:]) != 2 || be.Uint16(b[24:]) != 0 || be.Uint16(b[26:]) != 6 {
		t.Error("default mem, cpus, reserved or num_sections wrong")
	}
	// First section table entry points at the kernel's section header,
	// whose size field matches the table's size entry.
	if be.Uint64(b[28:]) != HeaderSize || be.Uint64(b[28+32*8:]) != uint64(len(in.Kernel)) {
		t.Error("kernel table entry wrong")
	}
	if be.Uint16(b[HeaderSize:]) != uint16(SectionKernel) || be.Uint64(b[HeaderSize+4:]) != uint64(len(in.Kernel)) {
		t.Error("kernel section header wrong")
	}
	// The CRC covers everything but its own four bytes, in file order.
	want := crc32.ChecksumIEEE(append(append([]byte{}, b[:544]...), b[548:]...))
	if got := be.Uint32(b[544:]); got != want {
		t.Errorf("crc = %08x, want %08x", got, want)
	}
}

func TestDeterministic(t *testing.T) {
	a, b := build(t, sampleInput()), build(t, sampleInput())
	if !bytes.Equal(a, b) {
		t.Fatal("two writes of the same input differ")
	}
	if Measure(sampleInput()) != describe(t, a).PCRs {
		t.Fatal("PCRs differ")
	}
}

func TestPCRsFollowTheDefinition(t *testing.T) {
	in := sampleInput()
	cmd := []byte("reboot=k panic=30 pci=off nomodules console=ttyS0")
	r := in.Ramdisks
	want := PCRs{
		PCR0: pcr(in.Kernel, cmd, r[0], r[1], r[2]),
		PCR1: pcr(in.Kernel, cmd, r[0]),
		PCR2: pcr(r[1], r[2]),
	}
	if got := Measure(in); got != want {
		t.Errorf("Measure = %x, want %x", got, want)
	}
	if got := describe(t, build(t, in)).PCRs; got != want {
		t.Errorf("Describe PCRs = %x, want %x", got, want)
	}
	// Metadata is not measured.
	in.Metadata = []byte(`{"ImageName":"x"}`)
	if Measure(in) != want || describe(t, build(t, in)).PCRs != want {
		t.Error("metadata changed the PCRs")
	}
	// With only the bootstrap ramdisk, PCR2 measures nothing.
	in.Ramdisks = r[:1]
	if got := Measure(in).PCR2; got != pcr() {
		t.Errorf("PCR2 of no app ramdisks = %x", got)
	}
}

func TestCmdline(t *testing.T) {
	with, without := sampleInput(), sampleInput()
	without.Cmdline = bytes.TrimSuffix(with.Cmdline, []byte{0})
	if !bytes.Equal(build(t, with), build(t, without)) {
		t.Error("a trailing NUL changed the image")
	}
	if Measure(with) != Measure(without) {
		t.Error("a trailing NUL changed the PCRs")
	}
	bad := sampleInput()
	bad.Cmdline = []byte("a\x00b")
	if err := Write(&bytes.Buffer{}, bad); err == nil {
		t.Error("accepted a cmdline with an interior NUL")
	}
}

func TestVersions(t *testing.T) {
	for _, v := range []uint16{2, 3} {
		in := sampleInput()
		in.Version = v
		d := describe(t, build(t, in))
		if d.Version != v || d.Metadata != nil || len(d.Sections) != 5 {
			t.Errorf("version %d: got version %d, metadata %q, %d sections", v, d.Version, d.Metadata, len(d.Sections))
		}
		if d.PCRs != Measure(sampleInput()) {
			t.Errorf("version %d: PCRs depend on the version", v)
		}
	}
	for _, tc := range []struct {
		name string
		in   Input
	}{
		{"rejects version 1", Input{Version: 1}},
		{"rejects a version newer than the current one", Input{Version: 5}},
		{"rejects metadata in a version 3 image", Input{Version: 3, Metadata: []byte(`{}`)}},
		{"rejects metadata that is not JSON", Input{Metadata: []byte(`{`)}},
		{"rejects more sections than the table holds", Input{Ramdisks: make([][]byte, 30)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Write(&bytes.Buffer{}, tc.in); err == nil {
				t.Fatal("Write succeeded")
			}
		})
	}
}

// fixCRC recomputes the header CRC so that a test reaches the check it is
// aimed at.
func fixCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[544:], crc32.ChecksumIEEE(append(append([]byte{}, b[:544]...), b[548:]...)))
	return b
}

func TestDescribeRejects(t *testing.T) {
	good := build(t, sampleInput())
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte{}, good...))
	}
	for _, tc := range []struct {
		name string
		eif  []byte
		want error
	}{
		{"rejects an image shorter than the header", good[:HeaderSize-1], ErrMalformed},
		{"rejects a bad magic", mutate(func(b []byte) []byte { b[0] = 'x'; return b }), ErrBadMagic},
		{"rejects version 0", mutate(func(b []byte) []byte { b[5] = 0; return b }), ErrUnsupportedVersion},
		{"rejects version 5", mutate(func(b []byte) []byte { b[5] = 5; return b }), ErrUnsupportedVersion},
		{"rejects a flipped kernel byte", mutate(func(b []byte) []byte { b[HeaderSize+SectionHeaderSize] ^= 1; return b }), ErrCRCMismatch},
		{"rejects a flipped default_mem byte", mutate(func(b []byte) []byte { b[9] ^= 1; return b }), ErrCRCMismatch},
		{"rejects a flipped CRC", mutate(func(b []byte) []byte { b[547] ^= 1; return b }), ErrCRCMismatch},
		{"rejects a truncated image", good[:len(good)-1], ErrMalformed},
		{"rejects a truncated section header", good[:HeaderSize+5], ErrMalformed},
		{"rejects trailing bytes", append(append([]byte{}, good...), 0), ErrMalformed},
		{"rejects too many sections", mutate(func(b []byte) []byte { b[27] = 33; return fixCRC(b) }), ErrMalformed},
		{"rejects a table that disagrees with the sections", mutate(func(b []byte) []byte { b[28+8+7]++; return fixCRC(b) }), ErrMalformed},
		{"rejects a nonzero unused table entry", mutate(func(b []byte) []byte { b[28+31*8] = 1; return fixCRC(b) }), ErrMalformed},
		{"rejects an invalid section type", mutate(func(b []byte) []byte { b[HeaderSize+1] = 0; return fixCRC(b) }), ErrMalformed},
		{"rejects a second kernel", mutate(func(b []byte) []byte {
			off := binary.BigEndian.Uint64(b[28+3*8:]) // first ramdisk
			b[off+1] = byte(SectionKernel)
			return fixCRC(b)
		}), ErrMalformed},
		{"rejects a section larger than the image", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[HeaderSize+4:], 1<<62)
			binary.BigEndian.PutUint64(b[28+32*8:], 1<<62)
			return fixCRC(b)
		}), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Describe(bytes.NewReader(tc.eif), int64(len(tc.eif)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMeasurementJSON(t *testing.T) {
	var p PCRs
	for i := range 48 {
		p.PCR0[i], p.PCR1[i], p.PCR2[i] = 0x00, 0x11, byte(i)
	}
	want := "{\n" +
		"  \"Measurements\": {\n" +
		"    \"HashAlgorithm\": \"Sha384 { ... }\",\n" +
		"    \"PCR0\": \"" + strings.Repeat("00", 48) + "\",\n" +
		"    \"PCR1\": \"" + strings.Repeat("11", 48) + "\",\n" +
		"    \"PCR2\": \"" + hex.EncodeToString(p.PCR2[:]) + "\"\n" +
		"  }\n" +
		"}"
	got := p.MeasurementJSON()
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	var v struct{ Measurements map[string]string }
	if err := json.Unmarshal(got, &v); err != nil || len(v.Measurements) != 4 {
		t.Errorf("not the expected JSON: %v", err)
	}
}

func FuzzDescribe(f *testing.F) {
	f.Add(build(f, sampleInput()))
	f.Add(build(f, Input{Version: 2, Kernel: []byte("k")}))
	f.Add(build(f, Input{Version: 3, Ramdisks: [][]byte{{1}}}))
	f.Add([]byte(".eif"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Describe(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		n := uint64(HeaderSize)
		for _, s := range d.Sections {
			n += SectionHeaderSize + s.Size
		}
		if n != uint64(len(b)) {
			t.Fatalf("sections cover %d of %d bytes", n, len(b))
		}
	})
}

func BenchmarkDescribe(b *testing.B) {
	in := sampleInput()
	in.Ramdisks[1] = make([]byte, 8<<20)
	img := build(b, in)
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		if _, err := Describe(bytes.NewReader(img), int64(len(img))); err != nil {
			b.Fatal(err)
		}
	}
}
