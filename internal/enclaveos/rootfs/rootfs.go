// Package rootfs turns an OCI image into the customer ramdisk an AWS Nitro
// enclave boots: a reproducible newc cpio archive holding the image's root
// filesystem under rootfs/ plus the cmd and env files the enclave init reads.
// The same image always gives the same bytes, whatever the layers' mtimes and
// owners, so the ramdisk's measurement depends only on the image content.
//
// The layout follows aws-nitro-enclaves-cli enclave_build
// (src/yaml_generator.rs get_customer_ramfs, src/docker.rs write_config).
package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/openccm/openccm/internal/errs"
)

// DefaultMaxBytes is the limit on file content in the root filesystem when
// Options.MaxBytes is zero.
const DefaultMaxBytes int64 = 8 << 30

// Options tune Ramdisk.
type Options struct {
	// TempDir is where file contents are spooled while layers are applied;
	// empty means os.TempDir.
	TempDir string
	// MaxBytes bounds the regular-file content of the root filesystem at any
	// point while layers are applied (hard links counted once). Zero means
	// DefaultMaxBytes.
	MaxBytes int64
}

// Stats describe the root filesystem written, for progress reporting. The
// cmd and env files and the rootfs/ directory itself are not counted.
type Stats struct {
	Files    int   // regular files, each hard link counted
	Dirs     int   // directories
	Symlinks int   // symbolic links
	Bytes    int64 // regular-file content, hard links counted once
}

// Directories nitro-cli always adds below rootfs/ because the enclave init
// mounts file systems on them (yaml_generator.rs).
var mountPoints = []string{"dev", "proc", "run", "sys", "tmp", "var"}

// Ramdisk writes the enclave ramdisk of img to w.
//
// Layers are applied in order with OCI whiteouts (.wh.<name> and
// .wh..wh..opq hide lower-layer entries only). Every entry gets mtime 0 and
// uid/gid 0; permission, setuid/setgid/sticky and type bits are kept. Device
// nodes and FIFOs are kept: they cost nothing in a cpio and the kernel
// creates them when it unpacks the ramdisk. Entries with absolute paths or
// ".." that leaves the root, and entries whose parent is a symlink or a
// file, are refused: nothing is ever resolved through a symlink.
//
// The cmd file holds the config's Entrypoint followed by its Cmd, one
// argument per line (the container's argv); env holds the Env lines.
func Ramdisk(img v1.Image, w io.Writer, opts Options) (Stats, error) {
	maxBytes := opts.MaxBytes
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxBytes < 0 {
		return Stats{}, errs.E(errs.Invalid, "rootfs: max bytes must not be negative")
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return Stats{}, fmt.Errorf("rootfs: reading image config: %w", err)
	}
	cmd, env, err := configFiles(cfg)
	if err != nil {
		return Stats{}, err
	}
	dir, err := os.MkdirTemp(opts.TempDir, "rootfs-")
	if err != nil {
		return Stats{}, fmt.Errorf("rootfs: creating temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)

	t := newTree(dir, maxBytes)
	layers, err := img.Layers()
	if err != nil {
		return Stats{}, fmt.Errorf("rootfs: listing layers: %w", err)
	}
	for i, l := range layers {
		if err := t.applyLayer(i+1, l); err != nil {
			return Stats{}, fmt.Errorf("rootfs: layer %d: %w", i, err)
		}
	}
	for _, name := range mountPoints {
		if _, ok := t.root.children[name]; !ok {
			t.root.children[name] = &node{mode: modeDir | 0o755, children: map[string]*node{}}
		}
	}
	return writeArchive(w, t, cmd, env)
}

// configFiles returns the contents of the cmd and env files. nitro-cli
// refuses an image with nothing to run (UnsupportedEntryPoint), and so do we.
func configFiles(cfg *v1.ConfigFile) (cmd, env []byte, err error) {
	if cfg == nil {
		return nil, nil, errs.E(errs.Invalid, "rootfs: image has no config")
	}
	argv := append(append([]string{}, cfg.Config.Entrypoint...), cfg.Config.Cmd...)
	if len(argv) == 0 {
		return nil, nil, errs.E(errs.Invalid, "rootfs: image config has neither entrypoint nor cmd")
	}
	if cmd, err = lines("cmd", argv); err != nil {
		return nil, nil, err
	}
	if env, err = lines("env", cfg.Config.Env); err != nil {
		return nil, nil, err
	}
	return cmd, env, nil
}

// lines joins ss one per line, each ending in a newline, as nitro-cli's
// write_config does. A value with a newline would split into two lines.
func lines(what string, ss []string) ([]byte, error) {
	var b strings.Builder
	for _, s := range ss {
		if strings.ContainsAny(s, "\n\x00") {
			return nil, errs.E(errs.Invalid, "rootfs: image config %s has a value with a newline or NUL", what)
		}
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return []byte(b.String()), nil
}

// Unix file type bits as stored in a cpio mode.
const (
	modeFifo    = 0o010000
	modeChar    = 0o020000
	modeDir     = 0o040000
	modeBlock   = 0o060000
	modeReg     = 0o100000
	modeSymlink = 0o120000
	modeType    = 0o170000
)

// node is one name in the root filesystem being built.
type node struct {
	mode     uint32 // type and permission bits
	layer    int    // the layer that last wrote this entry; 0 for implicit root
	children map[string]*node
	target   string // symlink target
	file     *inode // regular files; shared by hard links
	rmajor   uint32 // device numbers of char and block devices
	rminor   uint32
}

func (n *node) isDir() bool { return n.mode&modeType == modeDir }

// inode is the content of a regular file, spooled to a temporary file.
type inode struct {
	path  string // temporary file; empty when size is 0
	size  int64
	links int // names in the tree
}

type tree struct {
	root     *node
	dir      string
	maxBytes int64
	live     int64 // content bytes of inodes still linked
	spooled  int
}

func newTree(dir string, maxBytes int64) *tree {
	return &tree{root: &node{mode: modeDir | 0o755, children: map[string]*node{}}, dir: dir, maxBytes: maxBytes}
}

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

func (t *tree) applyLayer(layer int, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("opening: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return errs.Wrap(errs.Invalid, err, "rootfs: layer is not a valid tar stream")
		}
		if err := t.apply(layer, hdr, tr); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
}

// cleanPath turns a tar entry name into a slash-separated path relative to
// the root, or "" for the root itself.
func cleanPath(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", errs.E(errs.Invalid, "rootfs: entry path is empty, absolute or has NUL")
	}
	p := path.Clean(name)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", errs.E(errs.Invalid, "rootfs: entry path escapes the root")
	}
	if p == "." {
		return "", nil
	}
	return p, nil
}

// parent returns the directory that holds p, creating missing directories
// (mode 0755, as container runtimes do), and p's base name. It refuses to go
// through anything that is not a directory.
func (t *tree) parent(layer int, p string, create bool) (*node, string, error) {
	dir, base := path.Split(p)
	n := t.root
	if dir == "" {
		return n, base, nil
	}
	for _, c := range strings.Split(strings.TrimSuffix(dir, "/"), "/") {
		next, ok := n.children[c]
		if !ok {
			if !create {
				return nil, base, nil
			}
			next = &node{mode: modeDir | 0o755, layer: layer, children: map[string]*node{}}
			n.children[c] = next
		}
		if !next.isDir() {
			return nil, "", errs.E(errs.Invalid, "rootfs: a parent of the entry is not a directory")
		}
		n = next
	}
	return n, base, nil
}

func (t *tree) apply(layer int, hdr *tar.Header, r io.Reader) error {
	p, err := cleanPath(hdr.Name)
	if err != nil {
		return err
	}
	if p == "" {
		return nil // the root is always rootfs/ with mode 0755
	}
	base := path.Base(p)
	if base == opaqueMarker {
		dir, _, err := t.parent(layer, p, true)
		if err != nil {
			return err
		}
		for name, c := range dir.children {
			if !t.prune(c, layer) {
				delete(dir.children, name)
			}
		}
		return nil
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		dir, _, err := t.parent(layer, p, false)
		if err != nil || dir == nil {
			return err
		}
		name := strings.TrimPrefix(base, whiteoutPrefix)
		if c, ok := dir.children[name]; ok && !t.prune(c, layer) {
			delete(dir.children, name)
		}
		return nil
	}

	dir, name, err := t.parent(layer, p, true)
	if err != nil {
		return err
	}
	perm := uint32(hdr.Mode) & 0o7777
	n := &node{layer: layer}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if old, ok := dir.children[name]; ok && old.isDir() {
			old.mode, old.layer = modeDir|perm, layer
			return nil
		}
		n.mode, n.children = modeDir|perm, map[string]*node{}
	case tar.TypeReg:
		n.mode = modeReg | perm
		if n.file, err = t.spool(r, hdr.Size); err != nil {
			return err
		}
	case tar.TypeLink:
		lp, err := cleanPath(hdr.Linkname)
		if err != nil || lp == "" {
			return errs.E(errs.Invalid, "rootfs: hard link target escapes the root")
		}
		ld, lname, err := t.parent(layer, lp, false)
		if err != nil {
			return err
		}
		var target *node
		if ld != nil {
			target = ld.children[lname]
		}
		if target == nil || target.file == nil {
			return errs.E(errs.Invalid, "rootfs: hard link target is missing or not a regular file")
		}
		if target == dir.children[name] {
			return nil // a link to itself changes nothing
		}
		n.mode, n.file = target.mode, target.file
		n.file.links++
	case tar.TypeSymlink:
		n.mode, n.target = modeSymlink|0o777, hdr.Linkname
	case tar.TypeChar, tar.TypeBlock:
		n.mode = modeChar
		if hdr.Typeflag == tar.TypeBlock {
			n.mode = modeBlock
		}
		n.mode |= perm
		n.rmajor, n.rminor = uint32(hdr.Devmajor), uint32(hdr.Devminor)
	case tar.TypeFifo:
		n.mode = modeFifo | perm
	default:
		return errs.E(errs.Invalid, "rootfs: unsupported tar entry type %q", hdr.Typeflag)
	}
	if old, ok := dir.children[name]; ok {
		t.release(old)
	}
	dir.children[name] = n
	return nil
}

// prune removes everything below n written by layers before layer, the way
// a whiteout hides lower layers but not its own. It reports whether n itself
// stays: n is from this layer, or a directory still holding entries that are.
func (t *tree) prune(n *node, layer int) bool {
	if n.isDir() {
		for name, c := range n.children {
			if !t.prune(c, layer) {
				delete(n.children, name)
			}
		}
		if n.layer == layer || len(n.children) > 0 {
			return true
		}
	} else if n.layer == layer {
		return true
	}
	if n.file != nil {
		t.unlink(n.file)
	}
	return false
}

// release drops n and everything below it.
func (t *tree) release(n *node) {
	for _, c := range n.children {
		t.release(c)
	}
	if n.file != nil {
		t.unlink(n.file)
	}
}

func (t *tree) unlink(f *inode) {
	f.links--
	if f.links > 0 {
		return
	}
	t.live -= f.size
	if f.path != "" {
		os.Remove(f.path) // best effort; the directory goes at the end
	}
}

// spool copies a regular file's content to a temporary file, enforcing the
// size limit while copying so an oversized file never lands on disk whole.
func (t *tree) spool(r io.Reader, size int64) (*inode, error) {
	if size > math.MaxUint32 {
		return nil, errs.E(errs.TooLarge, "rootfs: a file of %d bytes does not fit a newc cpio entry", size)
	}
	if size < 0 || size > t.maxBytes-t.live {
		return nil, errs.E(errs.TooLarge, "rootfs: root filesystem exceeds %d bytes", t.maxBytes)
	}
	f := &inode{size: size, links: 1}
	t.live += size
	if size == 0 {
		return f, nil
	}
	t.spooled++
	f.path = path.Join(t.dir, fmt.Sprintf("f%d", t.spooled))
	out, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spooling file: %w", err)
	}
	n, err := io.Copy(out, io.LimitReader(r, size))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = errs.E(errs.Invalid, "rootfs: file content is truncated")
	}
	if err != nil {
		return nil, fmt.Errorf("spooling file: %w", err)
	}
	return f, nil
}
