// golive is the busy Go program the live view is tested with: for SECONDS (or until stdin closes)
// it starts a batch of short-lived goroutines every 50 ms that pass work over channels and allocate,
// keeps a few long-lived ones, and forces a GC cycle every 300 ms.
package main

import (
	"os"
	"runtime"
	"strconv"
	"time"
)

var sink [][]byte

func main() {
	seconds := 20
	if len(os.Args) > 1 {
		seconds, _ = strconv.Atoi(os.Args[1])
	}
	stop := time.After(time.Duration(seconds) * time.Second)
	ping, pong := make(chan int), make(chan int)
	for i := 0; i < 3; i++ { // long-lived goroutines: ping-pong
		go func() {
			for v := range ping {
				pong <- v + 1
			}
		}()
	}
	tick := time.NewTicker(50 * time.Millisecond)
	gc := time.NewTicker(300 * time.Millisecond)
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-gc.C:
			runtime.GC()
		case <-tick.C:
			done := make(chan []byte)
			for i := 0; i < 4; i++ {
				go func(size int) {
					b := make([]byte, size)
					time.Sleep(time.Duration(size%7) * time.Millisecond)
					done <- b
				}(4096 + 512*i + n%100)
			}
			for i := 0; i < 4; i++ {
				b := <-done
				if len(sink) > 64 {
					sink = sink[:0]
				}
				sink = append(sink, b)
			}
			ping <- n
			<-pong
		}
	}
}
