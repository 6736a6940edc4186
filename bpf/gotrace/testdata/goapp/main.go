// goapp is the workload the gotrace test watches: after a line on stdin (so the tracer can attach
// first) it starts N goroutines; each makes one heap allocation of a size unique to it and prints
// "goroutine <goid> parent <goid> alloc <bytes>", which the test matches against the traced events.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
)

var sink [][]byte
var mu sync.Mutex

// goid parses the current goroutine's id from its stack header ("goroutine 18 [running]:").
func goid() int64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, _ := strconv.ParseInt(string(buf[:bytes.IndexByte(buf, ' ')]), 10, 64)
	return id
}

func main() {
	n := 4
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	bufio.NewReader(os.Stdin).ReadString('\n')
	parent := goid()
	var wg sync.WaitGroup
	out := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		size := 200000 + i*4096 + 17
		go func() {
			defer wg.Done()
			b := make([]byte, size)
			mu.Lock()
			sink = append(sink, b)
			mu.Unlock()
			out <- fmt.Sprintf("goroutine %d parent %d alloc %d", goid(), parent, size)
		}()
	}
	wg.Wait()
	close(out)
	for line := range out {
		fmt.Println(line)
	}
}
