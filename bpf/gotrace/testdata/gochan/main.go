// gochan is the workload of gotrace's GC and channel test: after a line on stdin (so the tracer can
// attach first) a sender goroutine sends JOBS jobs over an unbuffered channel to WORKERS goroutines,
// each doubling them into a buffered results channel that main drains, then main runs GCS forced GC
// cycles. It prints what the test matches against the traced events: the channels' addresses, the
// goroutine ids, each worker's receive/send counts and the GC counters of runtime.MemStats around the
// cycles.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// goid parses the current goroutine's id from its stack header ("goroutine 18 [running]:").
func goid() int64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, _ := strconv.ParseInt(string(buf[:bytes.IndexByte(buf, ' ')]), 10, 64)
	return id
}

func arg(i, def int) int {
	if len(os.Args) > i {
		if n, err := strconv.Atoi(os.Args[i]); err == nil {
			return n
		}
	}
	return def
}

func main() {
	workers, jobs, gcs := arg(1, 3), arg(2, 30), arg(3, 3)
	bufio.NewReader(os.Stdin).ReadString('\n')

	jobc := make(chan int)
	results := make(chan int, 4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var report []string
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recv, sent := 0, 0
			for j := range jobc { // chanrecv2, once more for the close
				recv++
				results <- 2 * j // chansend1
				sent++
			}
			mu.Lock()
			report = append(report, fmt.Sprintf("worker %d recv %d send %d", goid(), recv, sent))
			mu.Unlock()
		}()
	}
	sum, sender := 0, int64(0)
	go func() {
		sender = goid() // read by main after the workers saw close(jobc)
		for i := 0; i < jobs; i++ {
			jobc <- i // chansend1
		}
		close(jobc)
	}()
	for i := 0; i < jobs; i++ {
		sum += <-results // chanrecv1
	}
	wg.Wait()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < gcs; i++ {
		runtime.GC()
		// Let the background sweeper run: it reports the end of sweeping (gc-sweep-done), and
		// runtime.GC sweeps everything itself first, so back to back it might not get to.
		time.Sleep(50 * time.Millisecond)
	}
	runtime.ReadMemStats(&after)

	fmt.Printf("main %d sender %d sum %d\n", goid(), sender, sum)
	fmt.Printf("chans jobs %p results %p\n", jobc, results)
	for _, l := range report {
		fmt.Println(l)
	}
	fmt.Printf("gc numgc %d %d forced %d %d\n", before.NumGC, after.NumGC, before.NumForcedGC, after.NumForcedGC)
}
