package journal

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/tree"
)

// randInt64 returns small, large and extreme values alike.
func randInt64(r *rand.Rand) int64 {
	switch r.IntN(5) {
	case 0:
		return 0
	case 1:
		return r.Int64N(1 << 10)
	case 2:
		return math.MinInt64 + r.Int64N(3)
	case 3:
		return math.MaxInt64 - r.Int64N(3)
	}
	return int64(r.Uint64())
}

func randHash(r *rand.Rand) tree.Hash {
	var h tree.Hash
	if r.IntN(4) == 0 {
		return h
	}
	for i := range h {
		h[i] = byte(r.UintN(256))
	}
	return h
}

func randEntry(r *rand.Rand) tree.Entry {
	e := tree.Entry{Kind: tree.Kind(r.IntN(4))}
	e.Perm = uint32(r.Uint64())
	e.Size = randInt64(r)
	e.MtimeNs = randInt64(r)
	e.Hash = randHash(r)
	n := r.IntN(3) * r.IntN(300)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	e.Target = string(b)
	return e
}

func randSide(r *rand.Rand) Side {
	if r.IntN(3) == 0 {
		return Side{}
	}
	pick := func(v int64) int64 {
		if r.IntN(4) == 0 {
			return 0
		}
		return v
	}
	return Side{
		FP: tree.Fingerprint{
			Size:    pick(randInt64(r)),
			MtimeNs: pick(randInt64(r)),
			CtimeNs: pick(randInt64(r)),
			Ino:     uint64(pick(int64(r.Uint64()))),
			Mode:    uint32(pick(int64(r.Uint32()))),
		},
		Hash: randHash(r),
	}
}

func randRecord(r *rand.Rand) Record {
	return Record{Base: randEntry(r), Local: randSide(r), Remote: randSide(r)}
}

// normalize clears the fields EncodeRecord documents as not stored for the
// base's kind.
func normalize(rec Record) Record {
	b := &rec.Base
	switch b.Kind {
	case tree.Absent:
		*b = tree.Entry{}
	case tree.File:
		b.Target = ""
	case tree.Dir:
		b.Hash, b.Target = tree.Hash{}, ""
	case tree.Symlink:
		b.Hash = tree.Hash{}
	}
	return rec
}

func TestRecordRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		rec := randRecord(r)
		enc := EncodeRecord(nil, rec)
		got, err := DecodeRecord(enc)
		if err != nil {
			t.Fatalf("record %d: decode %x: %v", i, enc, err)
		}
		if want := normalize(rec); !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d: round trip\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func TestEncodeRecordAppends(t *testing.T) {
	rec := Record{Base: tree.Entry{Kind: tree.Dir, Perm: 0o755}}
	dst := EncodeRecord([]byte("prefix"), rec)
	if !strings.HasPrefix(string(dst), "prefix") {
		t.Fatalf("prefix lost: %q", dst)
	}
	if got, err := DecodeRecord(dst[len("prefix"):]); err != nil || got != rec {
		t.Fatalf("decode = %+v, %v; want %+v", got, err, rec)
	}
}

func TestEncodedSizes(t *testing.T) {
	var h tree.Hash
	h[0] = 1
	tests := []struct {
		name string
		rec  Record
		want int
	}{
		{"zero", Record{}, 4},
		{"dir", Record{Base: tree.Entry{Kind: tree.Dir, Perm: 0o755}}, 1 + 1 + 2 + 1 + 1 + 2},
		{"file", Record{Base: tree.Entry{Kind: tree.File, Perm: 0o644, Size: 1, MtimeNs: 1, Hash: h}}, 1 + 1 + 2 + 1 + 1 + 32 + 2},
		{"symlink", Record{Base: tree.Entry{Kind: tree.Symlink, Perm: 0o777, Target: "abc"}}, 1 + 1 + 2 + 1 + 1 + 1 + 3 + 2},
		{"hash-only side", Record{Local: Side{Hash: h}}, 1 + 1 + 1 + 32 + 1},
		{"sftp side", Record{Remote: Side{FP: tree.Fingerprint{Size: 1, MtimeNs: 1, Mode: 0o100644}}}, 1 + 1 + 1 + 1 + 1 + 1 + 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := EncodeRecord(nil, tt.rec)
			if len(enc) != tt.want {
				t.Errorf("len(%x) = %d, want %d", enc, len(enc), tt.want)
			}
			if got, err := DecodeRecord(enc); err != nil || got != tt.rec {
				t.Errorf("decode = %+v, %v; want %+v", got, err, tt.rec)
			}
		})
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	file := EncodeRecord(nil, Record{Base: tree.Entry{Kind: tree.File, Perm: 0o644, Size: 5}})
	link := EncodeRecord(nil, Record{Base: tree.Entry{Kind: tree.Symlink, Target: "target"}})
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"version only", []byte{recordVersion}},
		{"unknown version", []byte{2, 0, 0, 0}},
		{"unknown kind", []byte{recordVersion, 4, 0, 0, 0, 0, 0}},
		{"truncated side", []byte{recordVersion, 0, 0}},
		{"trailing byte", []byte{recordVersion, 0, 0, 0, 0}},
		{"unknown side flag", []byte{recordVersion, 0, 0x40, 0}},
		{"flagged field missing", []byte{recordVersion, 0, sideSize, 0}},
		{"truncated file hash", file[:len(file)-10]},
		{"truncated target", link[:len(link)-4]},
		{"huge target length", []byte{recordVersion, byte(tree.Symlink), 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"perm overflow", []byte{recordVersion, byte(tree.Dir), 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0}},
		{"varint overflow", []byte{recordVersion, byte(tree.Dir), 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRecord(tt.in)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeRecord(%x) = %+v, %v; want ErrCorrupt", tt.in, got, err)
			}
			if got != (Record{}) {
				t.Errorf("DecodeRecord(%x) returned non-zero record %+v with its error", tt.in, got)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 16; i++ {
		f.Add(EncodeRecord(nil, randRecord(r)))
	}
	f.Add([]byte{})
	f.Add([]byte{recordVersion, 0, 0, 0})
	f.Add([]byte{recordVersion, byte(tree.Symlink), 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeRecord(b)
		if err != nil {
			return
		}
		enc := EncodeRecord(nil, rec)
		again, err := DecodeRecord(enc)
		if err != nil {
			t.Fatalf("re-encoded %+v as %x does not decode: %v", rec, enc, err)
		}
		if !reflect.DeepEqual(again, rec) {
			t.Fatalf("unstable: %x -> %+v -> %x -> %+v", b, rec, enc, again)
		}
		if normalize(rec) != rec {
			t.Fatalf("decoded record %+v has fields its kind does not store", rec)
		}
	})
}
