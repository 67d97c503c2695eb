package rootfs

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/openccm/openccm/internal/errs"
)

// newcMagic starts every header of the newc (SVR4, no checksum) cpio format
// the Linux kernel unpacks initramfs archives from.
const newcMagic = "070701"

const trailerName = "TRAILER!!!"

// entry is one archive member before inode numbers are assigned.
type entry struct {
	name string
	n    *node
	data []byte // content of the cmd and env files
}

// writeArchive writes the cpio: entries sorted bytewise by path (a parent
// always precedes its children, as the kernel unpacker needs), inode numbers
// 1, 2, … in that order with hard links sharing the first one's number, and
// a hard-linked file's content carried by its last name in the archive, as
// GNU cpio does; the kernel accepts that order too.
func writeArchive(w io.Writer, t *tree, cmd, env []byte) (Stats, error) {
	entries := []entry{
		{name: "cmd", n: &node{mode: modeReg | 0o644}, data: cmd},
		{name: "env", n: &node{mode: modeReg | 0o644}, data: env},
	}
	var walk func(name string, n *node)
	walk = func(name string, n *node) {
		entries = append(entries, entry{name: name, n: n})
		for c, cn := range n.children {
			walk(name+"/"+c, cn)
		}
	}
	walk("rootfs", t.root)
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })

	var st Stats
	inos := map[*inode]uint32{}
	seen := map[*inode]int{}
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := &cpioWriter{w: bw}
	for i, e := range entries {
		h := header{ino: uint32(i + 1), mode: e.n.mode, nlink: 1, rmajor: e.n.rmajor, rminor: e.n.rminor}
		var body io.Reader
		switch e.n.mode & modeType {
		case modeDir:
			h.nlink = 2
			for _, c := range e.n.children {
				if c.isDir() {
					h.nlink++
				}
			}
			if e.name != "rootfs" {
				st.Dirs++
			}
		case modeSymlink:
			h.size = int64(len(e.n.target))
			body = strings.NewReader(e.n.target)
			st.Symlinks++
		case modeReg:
			if e.data != nil || e.n.file == nil {
				h.size = int64(len(e.data))
				body = bytes.NewReader(e.data)
				break
			}
			f := e.n.file
			st.Files++
			if ino, ok := inos[f]; ok {
				h.ino = ino
			} else {
				inos[f] = h.ino
			}
			h.nlink = uint32(f.links)
			seen[f]++
			if seen[f] == f.links && f.size > 0 {
				h.size = f.size
				st.Bytes += f.size
			}
		}
		if err := cw.header(h, e.name); err != nil {
			return Stats{}, err
		}
		if h.size == 0 {
			continue
		}
		if err := cw.entryBody(e, body, h.size); err != nil {
			return Stats{}, fmt.Errorf("rootfs: writing %s: %w", e.name, err)
		}
	}
	if err := cw.header(header{nlink: 1}, trailerName); err != nil {
		return Stats{}, err
	}
	if err := bw.Flush(); err != nil {
		return Stats{}, fmt.Errorf("rootfs: writing archive: %w", err)
	}
	return st, nil
}

// header is the part of a newc header that varies; mtime, uid, gid and the
// file's own device are always zero so the archive is reproducible.
type header struct {
	ino, mode, nlink uint32
	size             int64
	rmajor, rminor   uint32
}

type cpioWriter struct {
	w   io.Writer
	off int64
}

func (c *cpioWriter) write(b []byte) error {
	n, err := c.w.Write(b)
	c.off += int64(n)
	if err != nil {
		return fmt.Errorf("rootfs: writing archive: %w", err)
	}
	return nil
}

func (c *cpioWriter) pad() error {
	if r := c.off % 4; r != 0 {
		return c.write(make([]byte, 4-r))
	}
	return nil
}

func (c *cpioWriter) header(h header, name string) error {
	s := fmt.Sprintf("%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%s\x00",
		newcMagic, h.ino, h.mode, 0, 0, h.nlink, 0, uint32(h.size), 0, 0, h.rmajor, h.rminor, len(name)+1, 0, name)
	if err := c.write([]byte(s)); err != nil {
		return err
	}
	return c.pad()
}

// entryBody writes the content of e: body, or else e's spooled file.
func (c *cpioWriter) entryBody(e entry, body io.Reader, size int64) error {
	if body != nil {
		return c.body(body, size)
	}
	fh, err := os.Open(e.n.file.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	return c.body(io.LimitReader(fh, size), size)
}

func (c *cpioWriter) body(r io.Reader, size int64) error {
	n, err := io.Copy(c.w, r)
	c.off += n
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("content is %d bytes, expected %d", n, size)
	}
	return c.pad()
}

// Bootstrap writes the enclave's first ramdisk, the one measured into PCR1
// with the kernel: the Nitro init program at /init (0755), the NSM driver
// it loads at /nsm.ko (0644), /dev (0755) and the /dev/console character
// device (5:1, 0600) the kernel opens for init. Like Ramdisk's output it is
// a reproducible newc cpio.
func Bootstrap(w io.Writer, init, nsm []byte) error {
	if len(init) == 0 || len(nsm) == 0 {
		return errs.E(errs.Invalid, "rootfs: the bootstrap ramdisk needs init and nsm.ko")
	}
	entries := []entry{
		{name: "dev", n: &node{mode: modeDir | 0o755}},
		{name: "dev/console", n: &node{mode: modeChar | 0o600, rmajor: 5, rminor: 1}},
		{name: "init", n: &node{mode: modeReg | 0o755}, data: init},
		{name: "nsm.ko", n: &node{mode: modeReg | 0o644}, data: nsm},
	}
	bw := bufio.NewWriter(w)
	cw := &cpioWriter{w: bw}
	for i, e := range entries {
		h := header{ino: uint32(i + 1), mode: e.n.mode, nlink: 1, rmajor: e.n.rmajor, rminor: e.n.rminor, size: int64(len(e.data))}
		if e.n.isDir() {
			h.nlink = 2
		}
		if err := cw.header(h, e.name); err != nil {
			return err
		}
		if h.size > 0 {
			if err := cw.body(bytes.NewReader(e.data), h.size); err != nil {
				return fmt.Errorf("rootfs: writing %s: %w", e.name, err)
			}
		}
	}
	if err := cw.header(header{nlink: 1}, trailerName); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("rootfs: writing archive: %w", err)
	}
	return nil
}
