package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles starts the profiles the environment asks for, for
// measuring where a command's time and memory go (see BENCHMARKS.md):
// MYRRORFS_CPUPROFILE=FILE writes a CPU profile, MYRRORFS_MEMPROFILE=FILE
// a heap profile taken when the command ends. The returned function
// writes them.
func startProfiles() func() {
	var stops []func()
	if f := os.Getenv("MYRRORFS_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err == nil {
			err = pprof.StartCPUProfile(out)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "myrrorfs: warning: MYRRORFS_CPUPROFILE: %v\n", err)
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); out.Close() })
		}
	}
	if f := os.Getenv("MYRRORFS_MEMPROFILE"); f != "" {
		stops = append(stops, func() {
			out, err := os.Create(f)
			if err == nil {
				runtime.GC()
				err = pprof.WriteHeapProfile(out)
				out.Close()
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "myrrorfs: warning: MYRRORFS_MEMPROFILE: %v\n", err)
			}
		})
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}
