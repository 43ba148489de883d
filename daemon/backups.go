package daemon

import (
	"errors"
	"fmt"
	"time"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/tree"
)

// BackupVersion is a version in a backup area as the socket carries it: paths
// as bytes, since a name need not be UTF-8.
type BackupVersion struct {
	Side    string    `json:"side"`
	Path    []byte    `json:"path"`
	Stored  []byte    `json:"stored"`
	Time    time.Time `json:"time"`
	Origin  string    `json:"origin"`
	Kind    string    `json:"kind"`
	Perm    uint32    `json:"perm,omitempty"`
	Size    int64     `json:"size"`
	Files   int       `json:"files,omitempty"`
	MtimeNs int64     `json:"mtime_ns,omitempty"`
	Target  []byte    `json:"target,omitempty"`
}

// VersionOf is b as the socket carries it.
func VersionOf(b engine.Backup) BackupVersion {
	return BackupVersion{Side: b.Side.String(), Path: []byte(b.Path), Stored: []byte(b.Stored), Time: b.Time,
		Origin: string(b.Origin), Kind: b.Kind.String(), Perm: b.Perm, Size: b.Size, Files: b.Files,
		MtimeNs: b.MtimeNs, Target: []byte(b.Target)}
}

// Backup is the version v names.
func (v BackupVersion) Backup() (engine.Backup, error) {
	b := engine.Backup{Path: string(v.Path), Stored: string(v.Stored), Time: v.Time, Origin: engine.Origin(v.Origin),
		Perm: v.Perm, Size: v.Size, Files: v.Files, MtimeNs: v.MtimeNs, Target: string(v.Target)}
	switch v.Side {
	case "local":
		b.Side = engine.LocalSide
	case "remote":
		b.Side = engine.RemoteSide
	default:
		return engine.Backup{}, fmt.Errorf("version of side %q: no such side", v.Side)
	}
	for _, k := range []tree.Kind{tree.File, tree.Dir, tree.Symlink} {
		if k.String() == v.Kind {
			b.Kind = k
		}
	}
	if b.Kind == tree.Absent {
		return engine.Backup{}, fmt.Errorf("version of kind %q: no such kind", v.Kind)
	}
	return b, nil
}

// Restored is what a restore did, as the socket carries it.
type Restored struct {
	Kept []byte `json:"kept,omitempty"` // where LOCAL's version went (see engine.Restored)
	Same bool   `json:"same,omitempty"` // LOCAL held the version already
}

// Restorer is implemented by a Mount that lists the versions in the
// backup areas and puts one back into LOCAL (*Daemon is one).
type Restorer interface {
	Backups(path string) ([]engine.Backup, error)
	Restore(b engine.Backup) (engine.Restored, error)
}

// HandleBackups serves backups (the versions of req.Path) and restore
// (put req.Version back).
func HandleBackups(m Mount, req Request) Response {
	r, ok := m.(Restorer)
	if !ok {
		return errorResponse(errors.New("this process cannot restore backups"))
	}
	if req.Op == OpBackups {
		bs, err := r.Backups(string(req.Path))
		if err != nil {
			return errorResponse(err)
		}
		resp := Response{V: ProtocolVersion, Versions: []BackupVersion{}}
		for _, b := range bs {
			resp.Versions = append(resp.Versions, VersionOf(b))
		}
		return resp
	}
	if req.Version == nil {
		return errorResponse(errors.New("restore: no version named"))
	}
	b, err := req.Version.Backup()
	if err != nil {
		return errorResponse(err)
	}
	res, err := r.Restore(b)
	if err != nil {
		return errorResponse(err)
	}
	return Response{V: ProtocolVersion, Restored: &Restored{Kept: []byte(res.Kept), Same: res.Same}}
}

// Backups lists the versions of path in both sides' backup areas. It
// does not hold the pair: it only reads the backup areas.
func (d *Daemon) Backups(path string) ([]engine.Backup, error) {
	return d.pair.Backups(path)
}

// Restore puts b back into LOCAL, between two gestures or commits, and
// refreshes the view at once.
func (d *Daemon) Restore(b engine.Backup) (engine.Restored, error) {
	d.mu.Lock()
	res, err := d.pair.Restore(b)
	d.mu.Unlock()
	if err == nil && !res.Same {
		d.refreshLocal()
	}
	return res, err
}

// logPruned logs what a prune after a commit did.
func (d *Daemon) logPruned(pr engine.Pruned) {
	if line := pr.String(); line != "" {
		fmt.Fprintf(d.opt.Log, "myrrorfs: %s\n", line)
	}
	for _, p := range pr.Problems {
		fmt.Fprintf(d.opt.Log, "myrrorfs: backups: %v\n", p)
	}
}
