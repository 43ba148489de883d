package tree

import "testing"

func TestSameFile(t *testing.T) {
	const s = int64(1e9)
	agent := Fingerprint{Size: 5, MtimeNs: 1700000000*s + 123456789, CtimeNs: 1700000001 * s, Ino: 42, Mode: 0o100644}
	sftp := Fingerprint{Size: 5, MtimeNs: 1700000000 * s, Mode: 0o100644}
	old := Fingerprint{Size: 5, MtimeNs: -2*s + 500, Mode: 0o100644} // 1969-12-31T23:59:58.0000005
	for _, c := range []struct {
		name        string
		known, seen Fingerprint
		want        bool
	}{
		{"equal", agent, agent, true},
		{"agent record, SFTP scan", agent, sftp, true},
		{"SFTP record, SFTP scan", sftp, sftp, true},
		{"other second", agent, Fingerprint{Size: 5, MtimeNs: 1700000001 * s, Mode: 0o100644}, false},
		{"other size", agent, Fingerprint{Size: 6, MtimeNs: 1700000000 * s, Mode: 0o100644}, false},
		{"other mode", agent, Fingerprint{Size: 5, MtimeNs: 1700000000 * s, Mode: 0o100755}, false},
		{"a full scan compares everything", agent, Fingerprint{Size: 5, MtimeNs: agent.MtimeNs, CtimeNs: agent.CtimeNs, Ino: 43, Mode: 0o100644}, false},
		{"nanoseconds differ on a full scan", agent, Fingerprint{Size: 5, MtimeNs: agent.MtimeNs + 1, CtimeNs: agent.CtimeNs, Ino: 42, Mode: 0o100644}, false},
		{"SFTP record, full scan", sftp, agent, false}, // hashed again, where that is cheap
		{"before 1970", old, Fingerprint{Size: 5, MtimeNs: -2 * s, Mode: 0o100644}, true},
		{"before 1970, the second after", old, Fingerprint{Size: 5, MtimeNs: -1 * s, Mode: 0o100644}, false},
	} {
		if got := SameFile(c.known, c.seen); got != c.want {
			t.Errorf("%s: SameFile(%+v, %+v) = %v, want %v", c.name, c.known, c.seen, got, c.want)
		}
	}
}
