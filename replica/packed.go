package replica

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/myrrorfs/myrrorfs/tree"
)

// children holds the children of a listed directory, packed: a Walk keeps
// many listings (those listed ahead, a TreeLister's whole tree), and a
// child packed takes about 40 bytes instead of the 110 of a walkChild and
// its name.
type children struct {
	buf   []byte
	offs  []uint32   // where each child's record starts, in tree order once sorted
	subs  []*dirJob  // the directories among them, by record reference
	probs []*Problem // the problems among them, by record reference
}

// Flags of a packed child.
const (
	childProblem = 1 << iota // a problem (ref: into probs)
	childDir                 // a directory to descend into (ref: into subs)
	childTarget              // a symlink's target follows
	childSizeFP              // the fingerprint's size is the size
	childMtimeFP             // the fingerprint's mtime is the mtime
)

// packedSize is about what a child takes packed, but for its name.
const packedSize = 40

// grow makes room for children listed as infos.
func (cs *children) grow(infos []Info) {
	n := 0
	for i := range infos {
		n += packedSize + len(infos[i].Name)
	}
	cs.buf = slices.Grow(cs.buf, n)
	cs.offs = slices.Grow(cs.offs, len(infos))
}

// len is the number of children.
func (cs *children) len() int { return len(cs.offs) }

// add appends a child.
func (cs *children) add(c *walkChild) {
	var flags byte
	var ref int
	info := &c.info
	switch {
	case c.prob != nil:
		flags |= childProblem
		ref = len(cs.probs)
		cs.probs = append(cs.probs, c.prob)
	case c.dir != nil:
		flags |= childDir
		ref = len(cs.subs)
		cs.subs = append(cs.subs, c.dir)
	}
	if c.target != "" {
		flags |= childTarget
	}
	if info.FP.Size == info.Size {
		flags |= childSizeFP
	}
	if info.FP.MtimeNs == info.MtimeNs {
		flags |= childMtimeFP
	}
	cs.offs = append(cs.offs, uint32(len(cs.buf)))
	b := append(cs.buf, flags)
	b = binary.AppendUvarint(b, uint64(len(info.Name)))
	b = append(b, info.Name...)
	b = append(b, byte(info.Kind))
	b = binary.AppendUvarint(b, uint64(info.Perm))
	b = binary.AppendVarint(b, info.Size)
	b = binary.AppendVarint(b, info.MtimeNs)
	if flags&childSizeFP == 0 {
		b = binary.AppendVarint(b, info.FP.Size)
	}
	if flags&childMtimeFP == 0 {
		b = binary.AppendVarint(b, info.FP.MtimeNs)
	}
	b = binary.AppendVarint(b, info.FP.CtimeNs)
	b = binary.AppendUvarint(b, info.FP.Ino)
	b = binary.AppendUvarint(b, uint64(info.FP.Mode))
	if flags&childTarget != 0 {
		b = binary.AppendUvarint(b, uint64(len(c.target)))
		b = append(b, c.target...)
	}
	if flags&(childProblem|childDir) != 0 {
		b = binary.AppendUvarint(b, uint64(ref))
	}
	cs.buf = b
}

// name returns the name of the child whose record starts at off.
func (cs *children) name(off uint32) []byte {
	b := cs.buf[off+1:]
	n, k := binary.Uvarint(b)
	return b[k : k+int(n)]
}

// sort puts the children in tree order: the order of their names (an
// invalid name holding '/' included).
func (cs *children) sort() {
	slices.SortFunc(cs.offs, func(a, b uint32) int { return compareNames(cs.name(a), cs.name(b)) })
}

// at decodes the i-th child; its name is returned apart, as bytes of the
// packed buffer (c.info.Name is left empty).
func (cs *children) at(i int) (c walkChild, name []byte) {
	b := cs.buf[cs.offs[i]:]
	flags := b[0]
	b = b[1:]
	uv := func() uint64 {
		v, k := binary.Uvarint(b)
		b = b[k:]
		return v
	}
	v := func() int64 {
		x, k := binary.Varint(b)
		b = b[k:]
		return x
	}
	n := uv()
	name, b = b[:n], b[n:]
	info := &c.info
	info.Kind = tree.Kind(b[0])
	b = b[1:]
	info.Perm = uint32(uv())
	info.Size = v()
	info.MtimeNs = v()
	info.FP.Size, info.FP.MtimeNs = info.Size, info.MtimeNs
	if flags&childSizeFP == 0 {
		info.FP.Size = v()
	}
	if flags&childMtimeFP == 0 {
		info.FP.MtimeNs = v()
	}
	info.FP.CtimeNs = v()
	info.FP.Ino = uv()
	info.FP.Mode = uint32(uv())
	if flags&childTarget != 0 {
		n := uv()
		c.target, b = string(b[:n]), b[n:]
	}
	switch {
	case flags&childProblem != 0:
		c.prob = cs.probs[uv()]
	case flags&childDir != 0:
		c.dir = cs.subs[uv()]
	}
	return c, name
}

// compareNames is tree.Compare of two names given as bytes.
func compareNames(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		if ca < cb {
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

// joinName is tree.Join(dir, string(name)) with one allocation.
func joinName(dir string, name []byte) string {
	if dir == "" {
		return string(name)
	}
	var sb strings.Builder
	sb.Grow(len(dir) + 1 + len(name))
	sb.WriteString(dir)
	sb.WriteByte('/')
	sb.Write(name)
	return sb.String()
}
