// Command delayrelay connects its standard input and output to a TCP
// address and holds every chunk of bytes for a fixed time in each
// direction, so that ssh through it (as its ProxyCommand) sees a link with
// that much added latency each way and loopback's bandwidth. The
// benchmarks use it where the kernel has no netem.
//
// Usage: delayrelay -delay 20ms HOST PORT
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

type chunk struct {
	due  time.Time
	data []byte
}

func main() {
	delay := flag.Duration("delay", 20*time.Millisecond, "added latency in each direction")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: delayrelay -delay DURATION HOST PORT")
		os.Exit(2)
	}
	c, err := net.Dial("tcp", net.JoinHostPort(flag.Arg(0), flag.Arg(1)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayrelay:", err)
		os.Exit(1)
	}
	done := make(chan struct{}, 2)
	go func() { relay(os.Stdin, c, *delay); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { relay(c, os.Stdout, *delay); done <- struct{}{} }()
	<-done
	<-done
}

// relay copies src to dst, writing each chunk read no earlier than delay
// after it was read; reading goes on meanwhile, so the delay adds latency,
// not a limit on throughput.
func relay(src io.Reader, dst io.Writer, delay time.Duration) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 64<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{time.Now().Add(delay), b[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range q {
		if d := time.Until(ch.due); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(ch.data); err != nil {
			for range q {
			}
			return
		}
	}
}
