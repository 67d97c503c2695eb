package rootfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/openccm/openccm/internal/errs"
)

// ent describes one tar entry of a test layer.
type ent struct {
	name string
	typ  byte
	mode int64
	body string
	link string
}

func dir(name string, mode int64) ent  { return ent{name: name, typ: tar.TypeDir, mode: mode} }
func file(name, body string) ent       { return ent{name: name, typ: tar.TypeReg, mode: 0o644, body: body} }
func symlink(name, target string) ent  { return ent{name: name, typ: tar.TypeSymlink, link: target} }
func hardlink(name, target string) ent { return ent{name: name, typ: tar.TypeLink, link: target} }
func whiteout(name string) ent         { return ent{name: name, typ: tar.TypeReg} }
func exe(name, body string, mode int64) ent {
	return ent{name: name, typ: tar.TypeReg, mode: mode, body: body}
}

// layerTar writes es as a tar stream; with rng set, times and owners are
// random so tests can show they do not reach the archive.
func layerTar(t testing.TB, rng *rand.Rand, es ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if rng != nil {
			h.ModTime = time.Unix(rng.Int64N(2e9), 0)
			h.Uid, h.Gid = rng.IntN(65536), rng.IntN(65536)
			h.Uname = "user" + strconv.Itoa(rng.IntN(100))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fakeImage is the part of an image Ramdisk reads. go-containerregistry's
// mutate and empty packages would do, but pull in modules go.mod lacks.
type fakeImage struct {
	v1.Image // nil: any other method panics
	layers   []v1.Layer
	cfg      v1.Config
}

func (f *fakeImage) Layers() ([]v1.Layer, error)         { return f.layers, nil }
func (f *fakeImage) ConfigFile() (*v1.ConfigFile, error) { return &v1.ConfigFile{Config: f.cfg}, nil }

func image(_ testing.TB, cfg v1.Config, layers ...[]byte) v1.Image {
	img := &fakeImage{cfg: cfg}
	for _, l := range layers {
		img.layers = append(img.layers, static.NewLayer(l, types.DockerLayer))
	}
	return img
}

var defaultConfig = v1.Config{Entrypoint: []string{"/bin/app"}, Cmd: []string{"serve", "--port=80"}, Env: []string{"PATH=/bin", "A=b c"}}

// cpioEntry is one member of a parsed newc archive.
type cpioEntry struct {
	name                            string
	ino, mode, uid, gid, nlink      uint32
	mtime, devmajor, devminor, rmaj uint32
	rmin                            uint32
	data                            string
}

// readNewc parses a newc archive strictly, up to and including the trailer.
func readNewc(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	align := func() {
		for off%4 != 0 {
			if b[off] != 0 {
				t.Fatalf("non-zero padding at %d", off)
			}
			off++
		}
	}
	for {
		if len(b) < off+110 {
			t.Fatalf("truncated header at %d", off)
		}
		h := b[off : off+110]
		if string(h[:6]) != "070701" {
			t.Fatalf("bad magic %q at %d", h[:6], off)
		}
		var f [13]uint32
		for i := range f {
			v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			f[i] = uint32(v)
		}
		off += 110
		nameLen, size := int(f[11]), int(f[6])
		name := string(b[off : off+nameLen-1])
		if b[off+nameLen-1] != 0 {
			t.Fatalf("name %q not NUL-terminated", name)
		}
		off += nameLen
		align()
		data := string(b[off : off+size])
		off += size
		align()
		if f[12] != 0 {
			t.Errorf("%s: check field %d", name, f[12])
		}
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after trailer", len(b)-off)
			}
			return out
		}
		out = append(out, cpioEntry{name: name, ino: f[0], mode: f[1], uid: f[2], gid: f[3], nlink: f[4], mtime: f[5],
			devmajor: f[7], devminor: f[8], rmaj: f[9], rmin: f[10], data: data})
	}
}

func build(t *testing.T, img v1.Image) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Ramdisk(img, &buf, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Ramdisk: %v", err)
	}
	return buf.Bytes(), st
}

func byName(es []cpioEntry) map[string]cpioEntry {
	m := map[string]cpioEntry{}
	for _, e := range es {
		m[e.name] = e
	}
	return m
}

func names(es []cpioEntry) []string {
	var ns []string
	for _, e := range es {
		ns = append(ns, e.name)
	}
	return ns
}

func TestRamdiskLayout(t *testing.T) {
	l1 := layerTar(t, nil,
		dir("bin/", 0o755),
		exe("bin/app", "app v1", 0o4755),
		file("etc/config", "old"),
		file("etc/keep", "keep"),
		dir("var/cache/", 0o700),
		file("var/cache/a", "a"),
		file("var/cache/sub/b", "b"),
		file("gone", "gone"),
		file("data/orig", "shared"),
		symlink("bin/sh", "/bin/app"),
		ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
	)
	l2 := layerTar(t, nil,
		exe("bin/app", "app v2", 0o755),
		whiteout("etc/.wh.config"),
		whiteout(".wh.gone"),
		dir("var/cache/", 0o750),
		whiteout("var/cache/.wh..wh..opq"),
		file("var/cache/new", "new"),
		hardlink("data/link", "data/orig"),
		dir("tmp/", 0o1777),
	)
	out, st := build(t, image(t, defaultConfig, l1, l2))
	es := readNewc(t, out)
	m := byName(es)

	want := []string{"cmd", "env", "rootfs", "rootfs/bin", "rootfs/bin/app", "rootfs/bin/sh", "rootfs/data",
		"rootfs/data/link", "rootfs/data/orig", "rootfs/dev", "rootfs/dev/null", "rootfs/etc", "rootfs/etc/keep",
		"rootfs/proc", "rootfs/run", "rootfs/sys", "rootfs/tmp", "rootfs/var", "rootfs/var/cache", "rootfs/var/cache/new"}
	if got := names(es); !slices.Equal(got, want) {
		t.Fatalf("entries:\n got %q\nwant %q", got, want)
	}
	for i, e := range es {
		if e.mtime != 0 || e.uid != 0 || e.gid != 0 || e.devmajor != 0 || e.devminor != 0 {
			t.Errorf("%s: mtime %d uid %d gid %d dev %d:%d, want all 0", e.name, e.mtime, e.uid, e.gid, e.devmajor, e.devminor)
		}
		if e.name != "rootfs/data/orig" && e.ino != uint32(i+1) {
			t.Errorf("%s: inode %d, want %d", e.name, e.ino, i+1)
		}
	}

	checks := []struct {
		name  string
		mode  uint32
		nlink uint32
		data  string
	}{
		{"cmd", 0o100644, 1, "/bin/app\nserve\n--port=80\n"},
		{"env", 0o100644, 1, "PATH=/bin\nA=b c\n"},
		{"rootfs", 0o40755, 2 + 9, ""},
		{"rootfs/bin/app", 0o100755, 1, "app v2"},
		{"rootfs/bin/sh", 0o120777, 1, "/bin/app"},
		{"rootfs/etc/keep", 0o100644, 1, "keep"},
		{"rootfs/var/cache", 0o40750, 2, ""},
		{"rootfs/var/cache/new", 0o100644, 1, "new"},
		{"rootfs/tmp", 0o41777, 2, ""},
		{"rootfs/proc", 0o40755, 2, ""},
		{"rootfs/dev/null", 0o20666, 1, ""},
		// The content travels with the last name of a hard-linked file.
		{"rootfs/data/link", 0o100644, 2, ""},
		{"rootfs/data/orig", 0o100644, 2, "shared"},
	}
	for _, c := range checks {
		e := m[c.name]
		if e.mode != c.mode || e.nlink != c.nlink || e.data != c.data {
			t.Errorf("%s: mode %o nlink %d data %q, want mode %o nlink %d data %q", c.name, e.mode, e.nlink, e.data, c.mode, c.nlink, c.data)
		}
	}
	if m["rootfs/data/link"].ino != m["rootfs/data/orig"].ino {
		t.Errorf("hard links have inodes %d and %d", m["rootfs/data/link"].ino, m["rootfs/data/orig"].ino)
	}
	wantStats := Stats{Files: 5, Dirs: 10, Symlinks: 1, Bytes: int64(len("app v2keepnewshared"))}
	if st != wantStats {
		t.Errorf("stats %+v, want %+v", st, wantStats)
	}
}

func TestRamdiskWhiteoutsHideLowerLayersOnly(t *testing.T) {
	l1 := layerTar(t, nil, file("a/old", "1"), file("b", "1"))
	// A layer's whiteouts do not hide what the same layer adds.
	l2 := layerTar(t, nil, file("a/new", "2"), whiteout("a/.wh..wh..opq"), file("b", "2"), whiteout(".wh.b"))
	es := readNewc(t, mustBuild(t, image(t, defaultConfig, l1, l2)))
	m := byName(es)
	if _, ok := m["rootfs/a/old"]; ok {
		t.Error("opaque directory kept a lower-layer entry")
	}
	if m["rootfs/a/new"].data != "2" || m["rootfs/b"].data != "2" {
		t.Errorf("same-layer entries hidden: a/new %q b %q", m["rootfs/a/new"].data, m["rootfs/b"].data)
	}
}

func mustBuild(t *testing.T, img v1.Image) []byte {
	b, _ := build(t, img)
	return b
}

func TestRamdiskIsReproducible(t *testing.T) {
	entries := [][]ent{
		{dir("usr/", 0o755), dir("usr/bin/", 0o755), exe("usr/bin/tool", "tool", 0o755), symlink("bin", "usr/bin"),
			file("etc/passwd", "root:x:0:0"), hardlink("etc/passwd2", "etc/passwd")},
		{file("etc/hosts", "127.0.0.1"), whiteout("etc/.wh.passwd2"), dir("opt/x/", 0o700), file("opt/x/y", "y")},
	}
	withRNG := func(seed uint64) v1.Image {
		rng := rand.New(rand.NewPCG(seed, seed))
		var ls [][]byte
		for _, es := range entries {
			ls = append(ls, layerTar(t, rng, es...))
		}
		return image(t, defaultConfig, ls...)
	}
	first := mustBuild(t, withRNG(1))
	if again := mustBuild(t, withRNG(1)); !bytes.Equal(first, again) {
		t.Error("two builds of the same image differ")
	}
	for seed := uint64(2); seed < 6; seed++ {
		if other := mustBuild(t, withRNG(seed)); !bytes.Equal(first, other) {
			t.Errorf("seed %d: layer mtimes and owners changed the archive", seed)
		}
	}
	m := byName(readNewc(t, first))
	if e := m["rootfs/etc/passwd"]; e.nlink != 1 || e.data != "root:x:0:0" {
		t.Errorf("etc/passwd after its hard link was whited out: nlink %d data %q", e.nlink, e.data)
	}
}

func TestRamdiskRejects(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]ent
		cfg    v1.Config
		max    int64
		kind   errs.Kind
	}{
		{name: "rejects an entry that climbs out of the root", layers: [][]ent{{file("../etc/passwd", "x")}}, kind: errs.Invalid},
		{name: "rejects an entry that climbs out after a subdirectory", layers: [][]ent{{file("a/../../x", "x")}}, kind: errs.Invalid},
		{name: "rejects an absolute entry", layers: [][]ent{{file("/etc/passwd", "x")}}, kind: errs.Invalid},
		{name: "rejects a hard link to outside the root", layers: [][]ent{{hardlink("x", "../../etc/shadow")}}, kind: errs.Invalid},
		{name: "rejects a hard link to a missing file", layers: [][]ent{{hardlink("x", "nope")}}, kind: errs.Invalid},
		{name: "refuses to write through a symlinked directory", layers: [][]ent{{symlink("evil", "/etc")}, {file("evil/passwd", "x")}}, kind: errs.Invalid},
		{name: "refuses to write below a regular file", layers: [][]ent{{file("f", "x"), file("f/g", "y")}}, kind: errs.Invalid},
		{name: "refuses an image without entrypoint or cmd", layers: [][]ent{{file("f", "x")}}, cfg: v1.Config{Env: []string{"A=1"}}, kind: errs.Invalid},
		{name: "refuses a cmd argument with a newline", layers: [][]ent{{file("f", "x")}}, cfg: v1.Config{Cmd: []string{"a\nb"}}, kind: errs.Invalid},
		{name: "refuses a root filesystem over the limit", layers: [][]ent{{file("a", "12345"), file("b", "123456")}}, max: 10, kind: errs.TooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ls [][]byte
			for _, es := range tc.layers {
				ls = append(ls, layerTar(t, nil, es...))
			}
			cfg := tc.cfg
			if cfg.Cmd == nil && cfg.Env == nil {
				cfg = defaultConfig
			}
			_, err := Ramdisk(image(t, cfg, ls...), &bytes.Buffer{}, Options{TempDir: t.TempDir(), MaxBytes: tc.max})
			if err == nil {
				t.Fatal("Ramdisk succeeded")
			}
			if k := errs.KindOf(err); k != tc.kind {
				t.Errorf("error %q has kind %v, want %v", err, k, tc.kind)
			}
		})
	}
}

func TestRamdiskLimitCountsLiveContent(t *testing.T) {
	// 8 bytes are written in all, but never more than 6 at once.
	l1 := layerTar(t, nil, file("a", "123456"))
	l2 := layerTar(t, nil, whiteout(".wh.a"), file("b", "12"))
	var buf bytes.Buffer
	if _, err := Ramdisk(image(t, defaultConfig, l1, l2), &buf, Options{TempDir: t.TempDir(), MaxBytes: 6}); err != nil {
		t.Fatalf("Ramdisk: %v", err)
	}
}

func BenchmarkRamdisk(b *testing.B) {
	var es []ent
	for i := range 2000 {
		es = append(es, file(fmt.Sprintf("d%d/f%d", i%50, i), string(bytes.Repeat([]byte{'x'}, 4096))))
	}
	img := image(b, defaultConfig, layerTar(b, nil, es...))
	dir := b.TempDir()
	for b.Loop() {
		if _, err := Ramdisk(img, &bytes.Buffer{}, Options{TempDir: dir}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBootstrap(t *testing.T) {
	var a, b bytes.Buffer
	if err := Bootstrap(&a, []byte("INIT"), []byte("NSMKO")); err != nil {
		t.Fatal(err)
	}
	if err := Bootstrap(&b, []byte("INIT"), []byte("NSMKO")); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("Bootstrap is not reproducible")
	}
	es := readNewc(t, a.Bytes())
	want := []cpioEntry{
		{name: "dev", ino: 1, mode: 0o040755, nlink: 2},
		{name: "dev/console", ino: 2, mode: 0o020600, nlink: 1, rmaj: 5, rmin: 1},
		{name: "init", ino: 3, mode: 0o100755, nlink: 1, data: "INIT"},
		{name: "nsm.ko", ino: 4, mode: 0o100644, nlink: 1, data: "NSMKO"},
	}
	if !reflect.DeepEqual(es, want) {
		t.Fatalf("entries:\n got %+v\nwant %+v", es, want)
	}
	if err := Bootstrap(&a, nil, []byte("x")); err == nil {
		t.Fatal("Bootstrap without init succeeded")
	}
}
