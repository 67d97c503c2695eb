package aci

import (
	"context"
	"fmt"
	"io"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layerHasher computes dm-verity root hashes of image layers exactly as az
// confcom's dmverity-vhd tool does (tar2ext4.ConvertAndComputeRootDigest on
// the uncompressed layer tar, printed as lower-case hex) and remembers them
// by diff ID, so a base layer shared by the app and the agent is read once.
type layerHasher struct {
	hashes map[v1.Hash]string
}

func newLayerHasher() *layerHasher {
	return &layerHasher{hashes: map[v1.Hash]string{}}
}

// imageLayers returns the root hashes of img's layers, bottom first. Each
// layer is streamed: tar2ext4 writes the ext4 image to a temporary file in
// os.TempDir(), which it removes, and holds only the Merkle tree (under 1/64
// of the file system) in memory. The context is checked before each layer and
// on every read.
func (h *layerHasher) imageLayers(ctx context.Context, what string, img v1.Image, diffIDs []v1.Hash) ([]string, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("aci: listing the layers of the %s image: %w", what, err)
	}
	if len(diffIDs) != len(layers) {
		return nil, fmt.Errorf("aci: the %s image has %d layers but its config lists %d diff IDs", what, len(layers), len(diffIDs))
	}
	out := make([]string, len(layers))
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("aci: hashing the %s image: %w", what, err)
		}
		if hash, ok := h.hashes[diffIDs[i]]; ok {
			out[i] = hash
			continue
		}
		hash, err := rootHash(ctx, l)
		if err != nil {
			return nil, fmt.Errorf("aci: layer %d (%s) of the %s image: %w", i, diffIDs[i], what, err)
		}
		h.hashes[diffIDs[i]] = hash
		out[i] = hash
	}
	return out, nil
}

// rootHash streams one layer through tar2ext4.
func rootHash(ctx context.Context, l v1.Layer) (hash string, err error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return "", fmt.Errorf("opening: %w", err)
	}
	defer func() {
		if cerr := rc.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing: %w", cerr)
		}
	}()
	r := readFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return rc.Read(p)
	})
	hash, err = tar2ext4.ConvertAndComputeRootDigest(r)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return "", cerr
		}
		return "", fmt.Errorf("computing the dm-verity root hash: %w", err)
	}
	// Read to the end so a registry layer's digest is verified: the tar
	// reader stops at the end-of-archive marker.
	if _, err := io.Copy(io.Discard, r); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return "", cerr
		}
		return "", fmt.Errorf("reading: %w", err)
	}
	return hash, nil
}

// readFunc is an io.Reader made of a function; the layer reader uses it to
// check the context on every read without keeping the context in a struct.
type readFunc func(p []byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }
