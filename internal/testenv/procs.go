package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// Proc is one process as /proc shows it.
type Proc struct {
	Pid, PPid int
	Comm      string   // the command name (at most 15 bytes)
	Args      []string // the command line; empty for a zombie
}

// Procs lists the processes running now (those /proc shows), keyed by pid.
func Procs() map[int]Proc {
	out := map[int]Proc{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses
		open, close := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || close < open {
			continue
		}
		fields := bytes.Fields(stat[close+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(string(fields[1]))
		p := Proc{Pid: pid, PPid: ppid, Comm: string(stat[open+1 : close])}
		if cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil {
			for _, a := range bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0}) {
				if len(a) > 0 {
					p.Args = append(p.Args, string(a))
				}
			}
		}
		out[pid] = p
	}
	return out
}

// Descendants returns the processes below pid (children, their children
// and so on) in procs, as given by Procs.
func Descendants(procs map[int]Proc, pid int) []Proc {
	children := map[int][]Proc{}
	for _, p := range procs {
		children[p.PPid] = append(children[p.PPid], p)
	}
	var out []Proc
	queue := []int{pid}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c.Pid)
		}
		queue = queue[1:]
	}
	return out
}

// ChildToward returns the child of ancestor through which pid descends
// from it, or 0 when pid is not below ancestor.
func ChildToward(procs map[int]Proc, ancestor, pid int) int {
	for seen := 0; pid > 1 && seen < 1000; seen++ {
		p, ok := procs[pid]
		if !ok {
			return 0
		}
		if p.PPid == ancestor {
			return pid
		}
		pid = p.PPid
	}
	return 0
}

// AgentsServing returns the pids of the processes running a myrrorfs agent
// on root (their command line holds "agent" and root).
func AgentsServing(root string) []int {
	var pids []int
	for pid, p := range Procs() {
		if slices.Contains(p.Args, "agent") && slices.Contains(p.Args, root) {
			pids = append(pids, pid)
		}
	}
	return pids
}
