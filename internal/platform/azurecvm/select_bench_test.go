package azurecvm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

// benchImages is the number of images in the benchmark account.
const benchImages = 10000

// benchTarget is the image the benchmark VM runs.
const benchTarget = 4321

func benchValue(format string, args ...any) string {
	sum := sha256.Sum256(fmt.Appendf(nil, format, args...))
	return hex.EncodeToString(sum[:])
}

// benchAccount builds an account shaped like a real one: nearly every image
// sets PCRs 0-7, whose values are shared in groups (4 firmware versions on
// PCR0, 8 on PCR1, 2 secure-boot policies on PCR7, a few constants, 1000 boot
// loaders on PCR4, 10 configurations on PCR5, so every combination is
// unique); one image in a hundred also sets PCRs 11-13 (a unified kernel
// image), and one image sets no PCR. It returns the images and the PCRs of a
// VM that runs image benchTarget and reports all 24 PCRs.
func benchAccount() ([]Image, map[int]string) {
	images := make([]Image, 0, benchImages+1)
	for k := range benchImages {
		pcrs := map[int]string{
			0: benchValue("pcr0-%d", k%4),
			1: benchValue("pcr1-%d", k%8),
			2: benchValue("pcr2"),
			3: benchValue("pcr3"),
			4: benchValue("pcr4-%d", k/10),
			5: benchValue("pcr5-%d", k%10),
			6: benchValue("pcr6"),
			7: benchValue("pcr7-%d", k%2),
		}
		if k%100 == 50 {
			for _, i := range []int{11, 12, 13} {
				pcrs[i] = benchValue("pcr%d-%d", i, k)
			}
		}
		images = append(images, Image{ID: fmt.Sprintf("img-%05d", k), PCRs: pcrs, Approved: k%7 != 0})
	}
	images = append(images, Image{ID: "img-nopcr", Approved: true})

	vm := map[int]string{}
	for i := range 24 {
		vm[i] = benchValue("vm-pcr%d", i)
	}
	for i, v := range images[benchTarget].PCRs {
		vm[i] = v
	}
	return images, vm
}

// benchUnknownVM reports PCR values no image has, so nothing anchors and the
// no-PCR image is selected.
func benchUnknownVM() map[int]string {
	vm := map[int]string{}
	for i := range 24 {
		vm[i] = benchValue("unknown-pcr%d", i)
	}
	return vm
}

func BenchmarkSelectAzureCVM(b *testing.B) {
	images, vm := benchAccount()
	ix := NewIndex(images)
	priority := DefaultPriority()
	b.Run("match", func(b *testing.B) {
		if d := ix.Select(vm, priority); d.Result != ResultOK || d.ImageID != images[benchTarget].ID {
			b.Fatalf("Select = (%q, %q), want (%q, ok)", d.ImageID, d.Result, images[benchTarget].ID)
		}
		b.ReportAllocs()
		for b.Loop() {
			ix.Select(vm, priority)
		}
	})
	b.Run("fallback", func(b *testing.B) {
		unknown := benchUnknownVM()
		if d := ix.Select(unknown, priority); d.ImageID != "img-nopcr" {
			b.Fatalf("Select = %q, want img-nopcr", d.ImageID)
		}
		b.ReportAllocs()
		for b.Loop() {
			ix.Select(unknown, priority)
		}
	})
}

func BenchmarkSelectReference(b *testing.B) {
	images, vm := benchAccount()
	priority := DefaultPriority()
	b.Run("match", func(b *testing.B) {
		if d := selectReference(images, vm, priority); d.Result != ResultOK || d.ImageID != images[benchTarget].ID {
			b.Fatalf("selectReference = (%q, %q), want (%q, ok)", d.ImageID, d.Result, images[benchTarget].ID)
		}
		b.ReportAllocs()
		for b.Loop() {
			selectReference(images, vm, priority)
		}
	})
	b.Run("fallback", func(b *testing.B) {
		unknown := benchUnknownVM()
		b.ReportAllocs()
		for b.Loop() {
			selectReference(images, unknown, priority)
		}
	})
}

func BenchmarkNewIndex(b *testing.B) {
	images, _ := benchAccount()
	b.ReportAllocs()
	for b.Loop() {
		NewIndex(images)
	}
}
