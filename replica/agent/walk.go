package agent

import (
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/local"
	"github.com/myrrorfs/myrrorfs/tree"
)

// list answers opList: it walks the tree below directory q.Path without
// following any symlink (through replica/local) and sends it in batches
// (see listing.go), each directory's own record (with an error when it
// cannot be listed) before its children's, symlinks with their targets.
// A directory tree.Internal names is sent but not descended into. The
// response that ends the listing fails only when q.Path cannot be listed
// or a batch cannot be sent.
func (s *server) list(q request) response {
	infos, err := s.loc.ReadDir(q.Path)
	if err != nil {
		return response{Err: toRemote(err)}
	}
	w := &walker{loc: s.loc, send: func(b []byte) error {
		return s.fw.write(chanAgent, (&response{ID: q.ID, Batch: b}).marshal())
	}}
	w.takeDir(q.Path, infos)
	for len(w.todo) > 0 && w.err == nil {
		w.listNext()
	}
	w.flush()
	if w.err != nil {
		return response{Err: toRemote(w.err)}
	}
	return response{}
}

// walker is the state of one listing.
type walker struct {
	loc  *local.Replica
	send func(batch []byte) error
	enc  listEncoder
	todo []dirEntry // directories still to list, last first
	err  error      // the first failure to send
}

// dirEntry is a directory seen in its parent's listing.
type dirEntry struct {
	parent string
	info   replica.Info
}

// listNext lists the next directory and sends its record and its children.
func (w *walker) listNext() {
	d := w.todo[len(w.todo)-1]
	w.todo = w.todo[:len(w.todo)-1]
	p := tree.Join(d.parent, d.info.Name)
	infos, err := w.loc.ReadDir(p)
	rec := recordOf(&d.info)
	if err != nil {
		rec.Err = toRemote(err)
	}
	w.add(d.parent, &rec)
	if err == nil {
		w.takeDir(p, infos)
	}
}

// takeDir sends the children of dir but its subdirectories, which it
// queues unless they are internal.
func (w *walker) takeDir(dir string, infos []replica.Info) {
	for i := range infos {
		info := &infos[i]
		p := tree.Join(dir, info.Name)
		if info.Kind == tree.Dir && !tree.Internal(p) {
			w.todo = append(w.todo, dirEntry{parent: dir, info: *info})
			continue
		}
		rec := recordOf(info)
		if info.Kind == tree.Symlink {
			target, err := w.loc.Readlink(p)
			if err != nil {
				rec.Err = toRemote(err)
			}
			rec.Target = target
		}
		w.add(dir, &rec)
	}
}

// recordOf is the record of an entry as the local replica reports it.
func recordOf(info *replica.Info) listRecord {
	return listRecord{Name: info.Name, Kind: info.Kind, Mode: info.FP.Mode, Size: info.Size,
		MtimeNs: info.FP.MtimeNs, CtimeNs: info.FP.CtimeNs, Ino: info.FP.Ino}
}

// readDir answers opReadDir: the entries of directory q.Path, one level,
// in batches (see listing.go), without symlink targets.
func (s *server) readDir(q request) response {
	infos, err := s.loc.ReadDir(q.Path)
	if err != nil {
		return response{Err: toRemote(err)}
	}
	w := &walker{loc: s.loc, send: func(b []byte) error {
		return s.fw.write(chanAgent, (&response{ID: q.ID, Batch: b}).marshal())
	}}
	for i := range infos {
		rec := recordOf(&infos[i])
		w.add(q.Path, &rec)
	}
	w.flush()
	if w.err != nil {
		return response{Err: toRemote(w.err)}
	}
	return response{}
}

// add queues rec, a child of dir, and sends the batch once it is big enough.
func (w *walker) add(dir string, rec *listRecord) {
	w.enc.add(dir, rec)
	if w.enc.size() >= batchTarget {
		w.flush()
	}
}

// flush sends what is queued, unless a send failed already.
func (w *walker) flush() {
	if b := w.enc.take(); b != nil && w.err == nil {
		w.err = w.send(b)
	}
}
