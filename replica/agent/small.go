package agent

import (
	"fmt"
	"strings"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Small files in one exchange each (since protocol 5): a put writes a
// whole temporary, a get reads a whole file, an install checks, backs up
// and renames; a put of a new file (since protocol 6) writes a temporary
// and installs it where nothing was. Over a link with latency a sync of many small files is
// bound by round trips; these make it two per file, all of them in flight
// at once (the client sends requests from many goroutines and the agent
// answers them from as many workers). What each does on the agent's side
// is replica's PutTempWith, GetWith and InstallWith on the local tree, the
// same code a caller without an agent runs.

// inFlight is how many operations a client of the agent keeps going at
// once (measured with 2,000 files of 4 KiB over a link with 20 ms each
// way: 16 at once, 16 s; 128, 3.4 s; 512, 2.3 s). Small files are at
// most replica.MaxSmall bytes each, so this also bounds the memory held
// by their transfers.
const inFlight = 256

var (
	_ replica.Pipelined     = (*Replica)(nil)
	_ replica.SmallWriter   = (*Replica)(nil)
	_ replica.SmallReader   = (*Replica)(nil)
	_ replica.Installer     = (*Replica)(nil)
	_ replica.NewFileWriter = (*Replica)(nil)
)

// InFlight tells how many operations to keep going at once.
func (r *Replica) InFlight() int { return inFlight }

// PutTemp writes data into a new temporary in dir through the agent, with
// perm and mtime mtimeNs, durably (see replica.SmallWriter).
func (r *Replica) PutTemp(dir string, perm uint32, mtimeNs int64, data []byte) (string, error) {
	if len(data) > replica.MaxSmall {
		return "", fmt.Errorf("put in %s:%s: %d bytes, more than %d", r.c.host, dir, len(data), replica.MaxSmall)
	}
	var e encoder
	e.str(r.TempMarker())
	e.b = append(e.b, data...)
	resp, err := r.c.call(request{Op: opPut, Path: dir, Perm: perm & 0o7777, Num: uint64(mtimeNs), Data: e.b})
	if err != nil {
		return "", err
	}
	if err := tree.ValidPath(resp.Path); err != nil || tree.Parent(resp.Path) != dir ||
		!strings.HasPrefix(tree.Base(resp.Path), tree.TempPrefix) {
		return "", fmt.Errorf("put in %s:%s: agent answered a bad temporary %q", r.c.host, dir, resp.Path)
	}
	r.bytesWritten.Add(int64(len(data)))
	return resp.Path, nil
}

// PutNew writes data into a new file at p, where nothing was, through the
// agent (see replica.NewFileWriter).
func (r *Replica) PutNew(p string, perm uint32, mtimeNs int64, data []byte) (replica.Info, error) {
	if len(data) > replica.MaxSmall {
		return replica.Info{}, fmt.Errorf("put %s:%s: %d bytes, more than %d", r.c.host, p, len(data), replica.MaxSmall)
	}
	var e encoder
	e.str(r.TempMarker())
	e.b = append(e.b, data...)
	resp, err := r.c.call(request{Op: opPutNew, Path: p, Perm: perm & 0o7777, Num: uint64(mtimeNs), Data: e.b})
	if err != nil {
		return replica.Info{}, err
	}
	r.bytesWritten.Add(int64(len(data)))
	if resp.FP.Mode == 0 {
		return replica.Info{}, nil
	}
	return infoOf(tree.Base(p), resp.FP), nil
}

// Get reads small file p through the agent if its fingerprint is want
// before and after (see replica.SmallReader).
func (r *Replica) Get(p string, want tree.Fingerprint) ([]byte, error) {
	var e encoder
	putFP(&e, want)
	resp, err := r.c.call(request{Op: opGet, Path: p, Data: e.b})
	if err != nil {
		return nil, err
	}
	if int64(len(resp.Path)) != want.Size {
		return nil, fmt.Errorf("get %s:%s: agent sent %d bytes of %d: %w", r.c.host, p, len(resp.Path), want.Size, replica.ErrChanged)
	}
	return []byte(resp.Path), nil
}

// Install installs temporary tmp at p through the agent (see
// replica.Installer).
func (r *Replica) Install(tmp, p string, want tree.Scanned, backup string) (replica.Info, error) {
	var e encoder
	e.u8(byte(want.Entry.Kind))
	putFP(&e, want.FP)
	e.str(backup)
	resp, err := r.c.call(request{Op: opInstall, Path: tmp, Dir: p, Data: e.b})
	if err != nil {
		return replica.Info{}, err
	}
	if resp.FP.Mode == 0 {
		return replica.Info{}, nil
	}
	return infoOf(tree.Base(p), resp.FP), nil
}

func putFP(e *encoder, fp tree.Fingerprint) {
	e.u64(uint64(fp.Size))
	e.u64(uint64(fp.MtimeNs))
	e.u64(uint64(fp.CtimeNs))
	e.u64(fp.Ino)
	e.u32(fp.Mode)
}

func getFP(d *decoder) tree.Fingerprint {
	return tree.Fingerprint{Size: int64(d.u64()), MtimeNs: int64(d.u64()), CtimeNs: int64(d.u64()), Ino: d.u64(), Mode: d.u32()}
}

// put answers a put request.
func (s *server) put(q request) response {
	d := decoder{b: q.Data}
	marker := d.str()
	if d.err != nil {
		return response{Err: toRemote(d.err)}
	}
	s.setMarker(request{Data: []byte(marker)})
	p, err := replica.PutTempWith(s.loc, q.Path, q.Perm&0o7777, int64(q.Num), d.b)
	if err != nil {
		return response{Err: toRemote(err)}
	}
	return response{Path: p}
}

// putNew answers a request to put a new file.
func (s *server) putNew(q request) response {
	d := decoder{b: q.Data}
	marker := d.str()
	if d.err != nil {
		return response{Err: toRemote(d.err)}
	}
	s.setMarker(request{Data: []byte(marker)})
	info, err := s.loc.PutNew(q.Path, q.Perm&0o7777, int64(q.Num), d.b)
	if err != nil {
		return response{Err: toRemote(err)}
	}
	return response{FP: info.FP}
}

// get answers a get request.
func (s *server) get(q request) response {
	d := decoder{b: q.Data}
	want := getFP(&d)
	if err := d.end(); err != nil {
		return response{Err: toRemote(err)}
	}
	data, err := replica.GetWith(s.loc, q.Path, want)
	if err != nil {
		return response{Err: toRemote(err)}
	}
	return response{Path: string(data)}
}

// install answers an install request.
func (s *server) install(q request) response {
	d := decoder{b: q.Data}
	var want tree.Scanned
	want.Entry.Kind = tree.Kind(d.u8())
	want.FP = getFP(&d)
	backup := d.str()
	if err := d.end(); err != nil {
		return response{Err: toRemote(err)}
	}
	if backup != "" {
		if err := tree.ValidPath(backup); err != nil {
			return response{Err: toRemote(fmt.Errorf("%q: %w: %w", backup, replica.ErrUnsafePath, err))}
		}
	}
	info, err := replica.InstallWith(s.loc, q.Path, q.Dir, want, backup)
	if err != nil {
		return response{Err: toRemote(err)}
	}
	return response{FP: info.FP}
}
