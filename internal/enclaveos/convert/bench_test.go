package convert

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/openccm/openccm/internal/oci/ocitest"
)

// benchContent is n bytes, half random and half text, so that it
// compresses about as well as typical image content.
func benchContent(n int) []byte {
	b := make([]byte, n/2, n)
	rand.Read(b)
	return append(b, bytes.Repeat([]byte("GET /index.html HTTP/1.1 200 "), n/2/29+1)[:n-n/2]...)
}

// benchImage has two layers of 16 files each, mib MiB in all.
func benchImage(b *testing.B, mib int) v1.Image {
	img := empty.Image
	for l := range 2 {
		var files []string
		for i := range 16 {
			files = append(files, fmt.Sprintf("data/l%d/f%02d", l, i), string(benchContent(mib<<20/32)))
		}
		var err error
		if img, err = mutate.AppendLayers(img, ocitest.Layer(b, files...)); err != nil {
			b.Fatal(err)
		}
	}
	img, err := mutate.Config(img, v1.Config{Entrypoint: []string{"/data/l0/f00"}})
	if err != nil {
		b.Fatal(err)
	}
	return img
}

// BenchmarkConvert compares an Enclave OS build (pull, root filesystem,
// EIF, output image, push) with a plain pull and push of the same 64 MiB
// input image between the same two registries. Every iteration pushes to a
// new, empty registry, so every blob is uploaded. The ccm binary that goes
// into the enclave and the output image is 32 MiB, about the real one's size.
func BenchmarkConvert(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	if _, err := e.oci.Push(ctx, e.in+"/team/app:1.0", benchImage(b, 64), userIn); err != nil {
		b.Fatal(err)
	}
	e.builder.c.Binary = benchContent(32 << 20)
	img, err := e.svc.Store.GetImage(ctx, e.acct, e.img)
	if err != nil {
		b.Fatal(err)
	}
	app, err := e.svc.Store.GetApp(ctx, e.acct, e.app)
	if err != nil {
		b.Fatal(err)
	}
	outRegistry := func(b *testing.B) string {
		b.StopTimer()
		defer b.StartTimer()
		return ocitest.NewRegistry(b, map[string]string{userOut.Username: userOut.Password})
	}

	b.Run("pull+push", func(b *testing.B) {
		for b.Loop() {
			out := outRegistry(b)
			src, err := e.oci.Pull(ctx, e.in+"/team/app:1.0", userIn)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.oci.Push(ctx, out+"/team/app-copy:1.0", src, userOut); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("convert", func(b *testing.B) {
		var s steps
		for b.Loop() {
			a := *app
			a.OutputImageName = outRegistry(b) + "/team/app-nitro"
			if _, err := e.builder.Build(ctx, nil, img, &a, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
